"""Reading STL-10 from its official binary files, the form it is downloaded in.

STL-10 is the standard benchmark for learning without labels: 100,000 unlabelled 96 x 96 images to train on and
13,000 labelled ones to evaluate with. Its files are raw bytes with no header, so every size is checked before a
pixel is read, and the unlabelled split (2.7 GB) is memory-mapped rather than read into a buffer and copied again.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from lookalike.data.arrays import LabelledImages
from lookalike.errors import LookalikeError

STL10_SPLITS = ("train", "test", "unlabeled")
STL10_FOLDER = "stl10_binary"
STL10_CLASSES = ("airplane", "bird", "car", "cat", "deer", "dog", "horse", "monkey", "ship", "truck")
"""The class names in label order, as class_names.txt lists them; used when that file is absent."""

IMAGE_SIDE = 96
IMAGE_BYTES = 3 * IMAGE_SIDE * IMAGE_SIDE
_CONTENTS = "train_X.bin, train_y.bin, test_X.bin, test_y.bin, unlabeled_X.bin and class_names.txt"


def find_stl10(path: str | Path) -> Path | None:
    """The `stl10_binary` folder when `path` is one (it holds an images file of any split) or directly holds one."""
    given = Path(path)
    for folder in (given, given / STL10_FOLDER):
        if any((folder / f"{split}_X.bin").is_file() for split in STL10_SPLITS):
            return folder.resolve()
    return None


def images_file(folder: str | Path, split: str) -> Path:
    """The file holding a split's pixels; the virtual paths of its images are this file's path plus "#index"."""
    if split not in STL10_SPLITS:
        raise ValueError(f"STL-10 split must be one of {', '.join(STL10_SPLITS)}, got {split!r}")
    return Path(folder) / f"{split}_X.bin"


def map_stl10_images(folder: str | Path, split: str) -> np.ndarray:
    """A split's images as a read-only (N, 3, 96, 96) uint8 view of the memory-mapped file, rows and columns in
    display order; nothing is read until it is indexed.

    The file stores each image as three planes (R, G, B), each in column-major order, so the view is the file's
    layout with the last two axes swapped, and is not contiguous.
    """
    file = images_file(folder, split)
    count = _image_count(file)
    planes = np.memmap(file, dtype=np.uint8, mode="r", shape=(count, 3, IMAGE_SIDE, IMAGE_SIDE))
    return planes.transpose(0, 1, 3, 2)


def read_stl10_images(folder: str | Path, split: str) -> torch.Tensor:
    """A split's images as a uint8 (N, 3, 96, 96) tensor in display orientation: one copy, straight from the file."""
    return torch.from_numpy(np.array(map_stl10_images(folder, split), order="C"))


def read_stl10_labelled(folder: str | Path, split: str) -> LabelledImages:
    """The labelled `train` or `test` split: its images and, for each, its class name."""
    if split not in ("train", "test"):
        raise ValueError(f"only the train and test splits of STL-10 are labelled, not {split!r}")
    folder = Path(folder)
    images = map_stl10_images(folder, split)
    numbers = _read_labels(folder / f"{split}_y.bin", len(images), images_file(folder, split))
    names = _class_names(folder)
    pixels = torch.from_numpy(np.array(images, order="C"))  # the labels are checked before any pixel is read
    return LabelledImages([names[number - 1] for number in numbers.tolist()], f"{folder} ({split} split)",
                          pixels=pixels)


def download_stl10(root: str | Path) -> Path:
    """Download (2.6 GB) and unpack STL-10 under `root` unless it is there already; returns its stl10_binary folder."""
    from torchvision.datasets import STL10
    from torchvision.datasets.utils import download_and_extract_archive

    folder = Path(root) / STL10.base_folder
    if not all(images_file(folder, split).is_file() for split in STL10_SPLITS):
        download_and_extract_archive(STL10.url, str(root), filename=STL10.filename, md5=STL10.tgz_md5)
    return folder


def _image_count(file: Path) -> int:
    try:
        size = file.stat().st_size
    except FileNotFoundError:
        raise LookalikeError(f"{file}: not found; an {STL10_FOLDER} folder holds {_CONTENTS}") from None
    except OSError as error:
        raise LookalikeError(f"{file}: unreadable: {error.strerror or error}") from error
    if size == 0:
        raise LookalikeError(f"{file}: empty file (0 bytes)")
    if size % IMAGE_BYTES:
        raise LookalikeError(
            f"{file}: {size} bytes is not a whole number of {IMAGE_SIDE}x{IMAGE_SIDE} RGB images "
            f"({IMAGE_BYTES} bytes each); the file is truncated or not STL-10"
        )
    return size // IMAGE_BYTES


def _read_labels(file: Path, count: int, images: Path) -> np.ndarray:
    """Labels 1..10, one byte per image, checked against the image count and the class count."""
    try:
        numbers = np.fromfile(file, dtype=np.uint8)
    except FileNotFoundError:
        raise LookalikeError(f"{file}: not found; it holds the labels of {images.name}") from None
    except OSError as error:
        raise LookalikeError(f"{file}: unreadable: {error.strerror or error}") from error
    if len(numbers) != count:
        raise LookalikeError(f"{file}: {len(numbers)} labels for the {count} images in {images.name}")
    outside = (numbers < 1) | (numbers > len(STL10_CLASSES))
    if outside.any():
        position = int(np.flatnonzero(outside)[0])
        raise LookalikeError(
            f"{file}: label {numbers[position]} at position {position} is outside 1..{len(STL10_CLASSES)}"
        )
    return numbers


def _class_names(folder: Path) -> tuple[str, ...]:
    """The names in class_names.txt, or the standard ones when it is absent: the labels mean the same classes in
    every copy of STL-10, and the file only spells them out. A file that is present but lists other than ten names
    is refused, since the labels could not be read against it."""
    file = folder / "class_names.txt"
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        return STL10_CLASSES
    except (OSError, UnicodeDecodeError) as error:
        raise LookalikeError(f"{file}: unreadable: {getattr(error, 'strerror', None) or error}") from error
    names = tuple(line.strip() for line in text.splitlines() if line.strip())
    if len(names) != len(STL10_CLASSES):
        raise LookalikeError(f"{file}: lists {len(names)} class names; STL-10 has {len(STL10_CLASSES)}")
    return names
