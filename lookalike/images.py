"""Every kind of image the Python API accepts, and how each becomes the input an encoder takes.

A caller may hand over a path (a file, or a folder searched recursively), a numpy array (H x W x 3 uint8 RGB, H x W
grey, or a batch N x H x W x 3), a PIL image, or the bytes of an encoded file (plain, or as `Encoded` to give them a
name for messages). Files are decoded in batches in worker processes (see lookalike.embed); the rest are prepared
here, in this process, through the same preprocessing stage, so an array of a file's pixels gives that file's vector.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeAlias, cast

import numpy as np
from PIL import Image, ImageOps

from lookalike.data import BadImage, collect_images
from lookalike.data.decode import decode_regions, to_rgb
from lookalike.preprocess import NothingFound, Stage


@dataclass(frozen=True)
class Encoded:
    """The bytes of an image file held in memory (an upload), with the name to use in messages."""

    name: str
    data: bytes


ImageInput: TypeAlias = str | os.PathLike | np.ndarray | Image.Image | bytes | Encoded
"""One image, or (a path to a folder, an N x H x W x 3 array) several; a sequence of these is several."""

Decode = Callable[[Encoded, int, Stage], list[tuple[str, np.ndarray]]]
"""Decodes an encoded image to the `size` x `size` inputs the stage makes, by region: `decode_regions`, or a bounded
decoder for a server's uploads."""


@dataclass(frozen=True)
class InMemory:
    """One image that is not a file: the name it goes by in results and messages, and its content."""

    name: str
    content: np.ndarray | Image.Image | Encoded

    def sha256(self) -> str:
        """A hash of the content as given (encoded bytes, or pixel values and shape)."""
        if isinstance(self.content, Encoded):
            return hashlib.sha256(self.content.data).hexdigest()
        pixels = np.ascontiguousarray(np.asarray(self.content))
        return hashlib.sha256(repr(pixels.shape).encode() + pixels.tobytes()).hexdigest()

    def prepare(self, size: int, stage: Stage, decode: Decode | None = None) -> list[tuple[str, np.ndarray]]:
        """The (size, size, 3) uint8 inputs the stage makes of the image, by region. Raises `BadImage` for bytes
        that are no image, or an image in which the stage finds nothing."""
        if isinstance(self.content, Encoded):
            if decode is None:
                return decode_regions(self.content.data, size, stage, name=self.content.name)
            return decode(self.content, size, stage)
        if isinstance(self.content, np.ndarray):
            image = Image.fromarray(self.content)
        else:
            image = ImageOps.exif_transpose(self.content)  # as a file with that EXIF orientation would be decoded
        try:
            return [(region.key, np.array(region.image)) for region in stage.regions(to_rgb(image), size)]
        except NothingFound as reason:
            raise BadImage(self.name, str(reason)) from None


_ONE_IMAGE = (str, os.PathLike, np.ndarray, Image.Image, bytes, bytearray, memoryview, Encoded)
"""What is one image (or, for a folder or a batch array, one argument) rather than a sequence of them."""

Item = Path | InMemory
"""One image to embed: a file to decode, or one held in memory."""


def gather(images: ImageInput | Sequence[ImageInput]) -> list[Item]:
    """The images in `images`, one item each, in the order given: folders are searched (see `collect_images`), a
    batch array is split into its images. Raises `TypeError` or `ValueError` for anything that is not an image."""
    given: list[ImageInput]
    if isinstance(images, _ONE_IMAGE):
        given = [cast(ImageInput, images)]
    elif isinstance(images, Sequence):
        given = list(cast(Sequence[ImageInput], images))  # mypy counts bytes among sequences
    else:
        raise TypeError(f"expected an image or a sequence of images, got {type(images).__name__}")
    items: list[Item] = []
    for image in given:
        position = len(items)
        if isinstance(image, (str, os.PathLike)):
            items += collect_images([Path(image)])
        elif isinstance(image, np.ndarray):
            items += [InMemory(f"<array {position + i}>", pixels) for i, pixels in enumerate(_arrays(image))]
        elif isinstance(image, Image.Image):
            items.append(InMemory(getattr(image, "filename", "") or f"<image {position}>", image))
        elif isinstance(image, (bytes, bytearray, memoryview)):
            items.append(InMemory(f"<bytes {position}>", Encoded(f"<bytes {position}>", bytes(image))))
        elif isinstance(image, Encoded):
            items.append(InMemory(image.name, image))
        else:
            raise TypeError(f"not an image: {type(image).__name__} (give a path, a numpy array, a PIL image or the "
                            "bytes of an image file)")
    return items


def _arrays(pixels: np.ndarray) -> list[np.ndarray]:
    """The images in an array: itself (H x W grey, H x W x 3 RGB) or its rows (N x H x W x 3)."""
    if pixels.dtype != np.uint8:
        raise TypeError(f"image arrays must be uint8 (0-255), got {pixels.dtype}; for floats in [0, 1] pass "
                        "(array * 255).round().astype(np.uint8)")
    if pixels.ndim == 2 or (pixels.ndim == 3 and pixels.shape[2] == 3):
        return [pixels]
    if pixels.ndim == 4 and pixels.shape[3] == 3:
        return list(pixels)
    raise ValueError(f"expected an H x W x 3 RGB array (or H x W grey, or N x H x W x 3), got shape {pixels.shape}")
