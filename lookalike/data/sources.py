"""One entry point for "a path the user gave": a folder of image files, an STL-10 folder or a CIFAR-10 folder.

Commands should not care which of these they were handed. Training gets an `ImageCache` and never sees a label;
evaluation gets `LabelledImages`. Both are decided here from what the folder holds, so a benchmark set downloaded in
its official form can be used as it is, without first being written out as millions of small image files.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from lookalike.data.arrays import LabelledImages, resize_square
from lookalike.data.cache import DEFAULT_MAX_BYTES, ImageCache, cache_images, check_cache_size
from lookalike.data.cifar import cifar10_batch_files, find_cifar10, read_cifar10_batch, read_cifar10_labelled
from lookalike.data.discover import find_images, label_for
from lookalike.data.stl10 import find_stl10, images_file, map_stl10_images, read_stl10_labelled
from lookalike.errors import LookalikeError
from lookalike.preprocess import Stage

ROLES = ("train", "test")
_CHUNK = 1024


def dataset_kind(path: str | Path) -> str:
    """ "stl10", "cifar10" or "folder" (anything else, including a path that does not exist: reading it says why)."""
    if find_stl10(path) is not None:
        return "stl10"
    if find_cifar10(path) is not None:
        return "cifar10"
    return "folder"


TYPICAL_SAMPLE = 200
"""Files whose headers `typical_side` reads: enough for a median, and a fraction of a second."""


def typical_side(path: str | Path) -> int | None:
    """The median shorter side, in pixels, of the images a path holds (96 for STL-10, 32 for CIFAR-10; for a folder,
    read from the headers of up to `TYPICAL_SAMPLE` files spread over it), or None when none can be read."""
    kind = dataset_kind(path)
    if kind != "folder":
        return {"stl10": 96, "cifar10": 32}[kind]
    try:
        files = find_images(path)
    except LookalikeError:
        return None  # reading the folder for training says what is wrong with it
    step = max(1, len(files) // TYPICAL_SAMPLE)
    sides = []
    for file in files[::step][:TYPICAL_SAMPLE]:
        try:
            with Image.open(file) as image:  # reads the header only
                sides.append(min(image.size))
        except (OSError, ValueError, Image.DecompressionBombError):
            continue
    return int(np.median(sides)) if sides else None


def training_images(
    path: str | Path,
    size: int,
    *,
    workers: int | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    on_plan: Callable[[int], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
    stage: Stage | None = None,
    identities: bool = False,
) -> ImageCache:
    """The images to train on, size x size, without their labels: every image of a folder (prepared by the
    preprocessing `stage`), STL-10's unlabelled split, or CIFAR-10's training split (whose pixels are already
    decoded and are scaled as they are, see `resize_square`). With `identities`, a folder's images are labelled by
    the sub-folder they are in (one sub-folder per person, product, ...), for identity-supervised training.

    `on_plan` is told how many images there are before any is decoded or resized, and `on_progress` how many more
    are done as work goes on, so that a progress bar fills. Images of a data set are named by virtual paths,
    "<file>#<index>", and images whose pixels repeat an earlier one's are dropped and listed as duplicates, as for
    files. A cache larger than `max_bytes` is refused before any image is decoded or resized.
    """
    kind = dataset_kind(path)
    if identities and kind != "folder":
        raise LookalikeError(f"{path}: training by identity reads the sub-folder names of an image folder; "
                             f"{kind} is trained without labels")
    if kind == "folder":
        paths = find_images(path)
        labels = _identity_labels(paths, Path(path)) if identities else None
        if on_plan:
            on_plan(len(paths))
        return cache_images(paths, size, workers=workers, max_bytes=max_bytes, on_progress=on_progress, stage=stage,
                            labels=labels)
    if kind == "stl10":
        folder = _found(find_stl10(path))
        images = map_stl10_images(folder, "unlabeled")
        file = images_file(folder, "unlabeled")
        names = [Path(f"{file}#{index}") for index in range(len(images))]
    else:
        batches = [read_cifar10_batch(file) for file in cifar10_batch_files(_found(find_cifar10(path)), "train")]
        images = np.concatenate([batch.pixels for batch in batches])
        names = [Path(f"{batch.file}#{index}") for batch in batches for index in range(len(batch))]
    check_cache_size(len(images), size, max_bytes)
    if on_plan:
        on_plan(len(images))
    return _array_cache(images, names, size, on_progress)


def labelled_images(path: str | Path, role: str) -> LabelledImages:
    """The labelled images for evaluation: the `role` ("train" or "test") split of STL-10 or CIFAR-10, or every
    image of a folder, labelled by the sub-folder of `path` it is in (a folder has no splits, so `role` is unused).
    """
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
    kind = dataset_kind(path)
    if kind == "stl10":
        return read_stl10_labelled(_found(find_stl10(path)), role)
    if kind == "cifar10":
        return read_cifar10_labelled(_found(find_cifar10(path)), role)
    paths = find_images(path)
    root = Path(path).resolve()
    labels = []
    for file in paths:
        label = label_for(file, root)
        if label is None:
            raise LookalikeError(
                f"{file}: is directly in {path}, not in a class sub-folder; evaluation needs one sub-folder per class"
            )
        labels.append(label)
    classes = sorted(set(labels))
    if len(classes) < 2:
        raise LookalikeError(f"{path}: only one class ({classes[0]}); evaluation needs at least two class sub-folders")
    return LabelledImages(labels, str(root), paths=paths)


def _identity_labels(paths: list[Path], root: Path) -> list[str]:
    """Each image's sub-folder name; an image directly in the folder has no identity, which is an error."""
    labels = [label_for(file, root.resolve()) for file in paths]
    loose = [file for file, label in zip(paths, labels) if label is None]
    if loose:
        raise LookalikeError(f"{loose[0]}: is directly in {root}, not in an identity sub-folder; training by identity "
                             "needs one sub-folder per identity" + (f" ({len(loose)} such images)" if len(loose) > 1
                                                                    else ""))
    if len(set(labels)) < 2:
        raise LookalikeError(f"{root}: only one identity ({labels[0]}); training by identity needs at least two, so "
                             "that a batch holds negatives")
    return [label for label in labels if label is not None]


def _found(folder: Path | None) -> Path:
    """The data set folder that `dataset_kind` has just found."""
    if folder is None:
        raise ValueError("dataset_kind and the finder disagree")
    return folder


def _array_cache(
    images: np.ndarray, names: list[Path], size: int, on_progress: Callable[[int], None] | None
) -> ImageCache:
    """Resize (N, 3, H, W) uint8 images, possibly a memory-mapped file, a chunk at a time, keeping first copies."""
    pixels = torch.empty((len(images), 3, size, size), dtype=torch.uint8)
    kept: list[Path] = []
    duplicates: list[Path] = []
    seen: set[bytes] = set()
    for start in range(0, len(images), _CHUNK):
        chunk = np.array(images[start : start + _CHUNK], order="C")  # reads a memory-mapped file here, once
        fresh = []
        for offset, image in enumerate(chunk):
            digest = hashlib.sha256(image.data).digest()
            if digest in seen:
                duplicates.append(names[start + offset])
                continue
            seen.add(digest)
            fresh.append(offset)
            kept.append(names[start + offset])
        if fresh:
            part = torch.from_numpy(chunk[fresh] if len(fresh) < len(chunk) else chunk)
            pixels[len(kept) - len(fresh) : len(kept)] = resize_square(part, size)
        if on_progress:
            on_progress(len(chunk))
    return ImageCache(kept, pixels[: len(kept)].clone() if duplicates else pixels, duplicates=duplicates)
