"""Enrolling identities into a gallery, one or more images each, and renaming or removing them: never a retraining.

A folder of known people follows face_recognition's convention: one sub-folder per identity holding its images, or
one image per identity named after it (``ann.jpg`` enrols "ann"); both may be mixed. Enrolled images are ordinary
gallery images that carry an identity, so they are stored, guarded and committed like any other.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lookalike.data import IMAGE_SUFFIXES, BadImage, find_images
from lookalike.embed import EmbedSettings, Embedder
from lookalike.errors import LookalikeError
from lookalike.gallery import GalleryStore, ImageRecord
from lookalike.models import model_id
from lookalike.workspace import ModelLike, open_gallery_without_model, open_or_create_gallery


@dataclass
class EnrolReport:
    gallery: Path
    enrolled: dict[str, int] = field(default_factory=dict)  # identity -> images stored by this run
    skipped: list[BadImage] = field(default_factory=list)
    identities: int = 0  # enrolled in the gallery after this run


def enrolment_images(folder: str | Path) -> list[tuple[Path, str]]:
    """(image, identity) for a known-people folder: sub-folder names, or file names without their suffix."""
    root = Path(folder)
    if not root.is_dir():
        raise LookalikeError(f"{root}: no such folder")
    pairs: list[tuple[Path, str]] = []
    for entry in sorted(os.scandir(root), key=lambda e: e.name):
        if entry.name.startswith("."):
            continue
        path = Path(entry.path).resolve()
        if entry.is_dir():
            try:
                pairs += [(image, entry.name) for image in find_images(path)]
            except LookalikeError:
                raise LookalikeError(f"{path}: the identity folder {entry.name!r} holds no images") from None
        elif entry.is_file() and path.suffix.lower() in IMAGE_SUFFIXES:
            pairs.append((path, path.stem))
    if not pairs:
        raise LookalikeError(f"{root}: no identities found; give one sub-folder per identity, or one image per "
                             "identity named after it")
    return pairs


def enroll_folder(
    folder: str | Path,
    gallery: str | Path,
    *,
    model: ModelLike = None,
    settings: EmbedSettings = EmbedSettings(),
    on_plan: Callable[[int], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> EnrolReport:
    """Embed and store every identity image under `folder` (an image already stored is replaced). The gallery is
    created with `model` when it does not exist; an existing one must have been built by `model`."""
    pairs = enrolment_images(folder)
    store, encoder = open_or_create_gallery(gallery, model)
    with store:
        if on_plan:
            on_plan(len(pairs))
        embedded = Embedder(encoder, settings).embed_paths([path for path, _ in pairs], on_progress=on_progress)
        records = store_enrolled(store, [pairs[i] for i in embedded.indices], embedded.vectors, embedded.sha256,
                                 model_id(encoder))
        return EnrolReport(store.folder, dict(Counter(r.identity for r in records)), embedded.failures,
                           len(identity_counts(store)))


def store_enrolled(
    store: GalleryStore, pairs: Sequence[tuple[Path, str]], vectors: np.ndarray, sha256: Sequence[str], model: str
) -> list[ImageRecord]:
    """Store embedded (absolute image path, identity) pairs in an open gallery and commit; returns the records.
    `sha256` holds each file's content hash and `model` the id of the model that embedded them."""
    records = []
    for (path, identity), digest in zip(pairs, sha256):
        stat = path.stat()
        records.append(ImageRecord(str(path), stat.st_size, stat.st_mtime_ns, digest, identity=identity))
    if records:
        store.add(records, vectors, model_id=model)
        store.commit()
    return records


def list_identities(gallery: str | Path) -> dict[str, int]:
    """Each enrolled identity with its number of images, sorted by name."""
    with open_gallery_without_model(gallery, read_only=True) as store:
        return identity_counts(store)


def rename_identity(gallery: str | Path, old: str, new: str) -> int:
    """Give `old`'s images the name `new`; returns how many. Refuses a name that is taken (it would merge two)."""
    if not new.strip():
        raise LookalikeError("the new identity name is empty")
    with open_gallery_without_model(gallery) as store:
        known = identity_counts(store)
        _check_known(old, known, store.folder)
        if new in known:
            raise LookalikeError(f"{new!r} is already enrolled in {store.folder}; remove it first or pick another name")
        count = store.rename_identity(old, new)
        store.commit()
    return count


def remove_identity(gallery: str | Path, name: str) -> int:
    """Forget `name` and its images; returns how many images went."""
    with open_gallery_without_model(gallery) as store:
        _check_known(name, identity_counts(store), store.folder)
        count = store.remove([image.path for image in store.images() if image.identity == name])
        store.commit()
    return count


def identity_counts(store: GalleryStore) -> dict[str, int]:
    """Each enrolled identity in an open gallery with its number of images, sorted by name."""
    return dict(sorted(Counter(image.identity for image in store.images() if image.identity is not None).items()))


def _check_known(name: str, known: dict[str, int], folder: Path) -> None:
    if name not in known:
        listing = ", ".join(known) if known else "nobody yet"
        raise LookalikeError(f"{name!r} is not enrolled in {folder} (enrolled: {listing})")
