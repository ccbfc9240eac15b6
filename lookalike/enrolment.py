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

from lookalike.data import IMAGE_SUFFIXES, BadImage, find_images
from lookalike.embed import Embeddings
from lookalike.errors import LookalikeError, NotEnrolled, NothingReadable
from lookalike.gallery import GalleryStore, ImageRecord
from lookalike.model import Model
from lookalike.text import has_unsafe_characters, printable

MAX_IDENTITY_LENGTH = 200


@dataclass
class EnrolReport:
    gallery: str
    enrolled: dict[str, int] = field(default_factory=dict)  # identity -> images stored by this run
    skipped: list[BadImage] = field(default_factory=list)
    identities: int = 0  # enrolled in the gallery after this run
    crowded: dict[Path, int] = field(default_factory=dict)
    """Images in which the preprocessing stage found several regions (faces), with how many: only the first (the
    largest face) was enrolled."""


class BadIdentityName(LookalikeError):
    """A name that cannot be an identity."""

    http_status = 400


def identity_name(name: str) -> str:
    """``name`` without surrounding blanks, if it can be an identity: not empty, at most `MAX_IDENTITY_LENGTH`
    characters, and free of control characters, line breaks, bidirectional overrides and undecodable bytes, so that
    it prints as what it is and can never forge a row of a table. Raises `BadIdentityName` saying what is wrong."""
    name = name.strip()
    if not name:
        raise BadIdentityName("the identity name is empty")
    if len(name) > MAX_IDENTITY_LENGTH:
        raise BadIdentityName(f"the identity name is longer than {MAX_IDENTITY_LENGTH} characters")
    if has_unsafe_characters(name):
        raise BadIdentityName(f"the identity name {printable(name)!r} holds a control character, a line break or "
                             "bytes that are not UTF-8")
    return name


@dataclass(frozen=True)
class EnrolmentImages:
    """What a known-people folder holds: (image, identity) pairs, and the files that cannot be enrolled."""

    pairs: list[tuple[Path, str]]
    skipped: list[BadImage]


def enrolment_images(folder: str | Path) -> EnrolmentImages:
    """(image, identity) for a known-people folder: sub-folder names, or file names without their suffix. An entry
    whose name cannot be an identity (see `identity_name`) or a folder without images is skipped with the reason;
    links are kept as links, like `find_images` keeps them, and one that leads nowhere is reported when read."""
    given = Path(folder)
    if not given.is_dir():
        raise LookalikeError(f"{given}: no such folder")
    root = given.resolve()
    found = EnrolmentImages([], [])
    for entry in sorted(os.scandir(root), key=lambda e: e.name):
        if entry.name.startswith("."):
            continue
        path = root / entry.name
        try:
            is_folder = entry.is_dir()
        except OSError:  # a link loop: not a folder, and reading it as a file reports it
            is_folder = False
        if is_folder:
            try:
                name = identity_name(entry.name)
            except BadIdentityName as error:
                found.skipped.append(BadImage(path, str(error)))
                continue
            try:
                found.pairs.extend((image, name) for image in find_images(path))
            except LookalikeError:
                found.skipped.append(BadImage(path, "an identity folder with no images"))
        elif path.suffix.lower() in IMAGE_SUFFIXES:
            try:
                found.pairs.append((path, identity_name(path.stem)))
            except BadIdentityName as error:
                found.skipped.append(BadImage(path, str(error)))
    if not found.pairs and not found.skipped:
        raise LookalikeError(f"{given}: no identities found; give one sub-folder per identity, or one image per "
                             "identity named after it")
    return found


def enrol_found(
    store: GalleryStore,
    model: Model,
    found: EnrolmentImages,
    *,
    on_plan: Callable[[int], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> EnrolReport:
    """Embed and store the identity images `found` in a gallery open for writing, and commit (an image already
    stored is replaced). An image is enrolled by its first region: with face preprocessing, its largest face (the
    report lists the images that held more). When not one image could be enrolled, `NothingReadable` says why for
    each."""
    pairs = found.pairs
    if on_plan:
        on_plan(len(pairs))
    embedded = model.embedder.embed_paths([path for path, _ in pairs], on_progress=on_progress)
    skipped = found.skipped + embedded.skipped
    if not embedded.indices:
        raise NothingReadable(skipped)
    crowded = {pairs[position][0]: count for position, count in embedded.crowded().items()}
    embedded = embedded.main_regions()
    store_enrolled(store, pairs, embedded, model.id)
    enrolled = Counter(pairs[position][1] for position in embedded.indices)
    return EnrolReport(store.location, dict(enrolled), skipped, len(store.identities()), crowded)


def store_enrolled(
    store: GalleryStore, pairs: Sequence[tuple[Path, str]], embedded: Embeddings, model: str
) -> list[ImageRecord]:
    """Store embedded (absolute image path, identity) pairs in an open gallery and commit; returns the records.
    `embedded` holds the rows of those files, one per region (`indices` point into `pairs`), and `model` is the id
    of the model that embedded them."""
    records = []
    for position, digest, region in zip(embedded.indices, embedded.sha256, embedded.regions):
        path, identity = pairs[position]
        stat = path.stat()
        records.append(ImageRecord(str(path), stat.st_size, stat.st_mtime_ns, digest, identity=identity,
                                   region=region))
    vectors = embedded.vectors
    if records:
        store.add(records, vectors, model_id=model)
        store.commit()
    return records


def rename_identity(store: GalleryStore, old: str, new: str) -> int:
    """Give `old`'s images the name `new` in a gallery open for writing, and commit; returns how many. Refuses a
    name that is taken (it would merge two)."""
    new = identity_name(new)
    known = store.identities()
    _check_known(old, known, store.location)
    if new in known:
        raise LookalikeError(f"{new!r} is already enrolled in {store.location}; remove it first or pick another name")
    count = store.rename_identity(old, new)
    store.commit()
    return count


def remove_identity(store: GalleryStore, name: str) -> int:
    """Forget `name` and its images in a gallery open for writing, and commit; returns how many images went."""
    _check_known(name, store.identities(), store.location)
    count = store.remove([image.path for image in store.enrolled_as(name)])
    store.commit()
    return count


def _check_known(name: str, known: dict[str, int], gallery: str) -> None:
    if name not in known:
        listing = ", ".join(known) if known else "nobody yet"
        raise NotEnrolled(f"{name!r} is not enrolled in {gallery} (enrolled: {listing})")
