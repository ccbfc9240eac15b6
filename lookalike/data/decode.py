"""Decoding any image file Pillow can read into the one form the rest of lookalike uses: (H, W, 3) uint8 RGB.

Files come from anywhere (scraped folders, uploads), so every way a file can be unusable becomes a `BadImage` with a
reason a person can act on, and an image's size is checked from its header before any pixel is decoded.
"""

from __future__ import annotations

import errno
import hashlib
import io
import os
import struct
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from lookalike.errors import LookalikeError
from lookalike.preprocess import DEFAULT_STAGE, NothingFound, Stage, stage_named

MAX_PIXELS = 89_478_485
"""Pillow's default decompression-bomb limit (a quarter GiB of RGB pixels), well beyond any camera's photos."""

_WIDE_GREY_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N", "I"})
"""Greyscale modes Pillow uses for 16-bit PNG, TIFF and PGM files; its own conversion to 8 bits clips them."""

_DECODER_FAILURES = (OSError, SyntaxError, ValueError, TypeError, IndexError, KeyError, EOFError, ZeroDivisionError,
                     struct.error, Warning)
"""What Pillow's format plugins raise on malformed input; which one depends on the format and where the damage is.
Warnings are included for programs that run with warnings as errors (``-W error``)."""

_WHITE = (255, 255, 255, 255)

T = TypeVar("T")


class BadImage(LookalikeError):
    """A file that cannot be used as an image; ``reason`` says why in a few words."""

    http_status = 400

    def __init__(self, path: str | Path, reason: str) -> None:
        super().__init__(path, reason)  # both in args, so the error survives pickling out of a worker process
        self.path = Path(path)
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


class TooManyPixels(BadImage):
    """An image whose header declares more pixels than the limit allows; refused before any pixel is decoded."""

    http_status = 413


def read_image_file(path: str | Path) -> bytes:
    """A file's bytes, with file-system failures turned into `BadImage` like every other way a file can be unusable."""
    path = Path(path)
    try:
        return path.read_bytes()
    except OSError as error:
        raise unreadable(path, error) from error


def unreadable(path: str | Path, error: OSError) -> BadImage:
    """The `BadImage` for a file that the file system would not let us read, with the reason in a few words."""
    path = Path(path)
    if error.errno == errno.ELOOP:
        return BadImage(path, "symbolic link loop")
    if isinstance(error, FileNotFoundError):
        if path.is_symlink():
            return BadImage(path, f"broken symbolic link (its target {os.readlink(path)} does not exist)")
        return BadImage(path, "file not found")
    if isinstance(error, PermissionError):
        return BadImage(path, "permission denied")
    if isinstance(error, IsADirectoryError):
        return BadImage(path, "is a folder, not a file")
    return BadImage(path, f"unreadable: {error.strerror or error}")


def decode_rgb(
    source: str | Path | bytes,
    size: int | None = None,
    *,
    max_pixels: int = MAX_PIXELS,
    name: str | None = None,
) -> np.ndarray:
    """Decode a file, or the bytes of one, to a C-contiguous (H, W, 3) uint8 RGB array: the whole image, or with
    ``size`` its centre square at ``size`` x ``size`` (the default preprocessing stage's input; see
    `decode_regions` for a model's own stage).

    EXIF orientation is applied, alpha is laid over white, 16-bit greyscale is rescaled, and an animation gives its
    first frame. ``name`` labels ``bytes`` input in errors. Images over ``max_pixels`` are refused from their header;
    Pillow's own hard limit (twice ``PIL.Image.MAX_IMAGE_PIXELS``) applies as well. Raises `BadImage` for any
    unusable input.
    """
    if size is None:
        return _decode(source, None, max_pixels, name, np.array)
    [(_, pixels)] = decode_regions(source, size, stage_named(DEFAULT_STAGE), max_pixels=max_pixels, name=name)
    return pixels


def decode_regions(
    source: str | Path | bytes,
    size: int,
    stage: Stage,
    *,
    max_pixels: int = MAX_PIXELS,
    name: str | None = None,
) -> list[tuple[str, np.ndarray]]:
    """Decode a file, or the bytes of one, as `decode_rgb` does, and make the preprocessing ``stage``'s inputs of it:
    (region name, C-contiguous (size, size, 3) uint8 RGB) for each region it finds. JPEGs are decoded at the reduced
    scale the stage allows, which is much faster for large photos. A file in which the stage finds nothing is a
    `BadImage` with the stage's reason."""
    if size < 1:
        raise ValueError(f"size must be >= 1, got {size}")

    def regions(rgb: Image.Image) -> list[tuple[str, np.ndarray]]:
        return [(region.key, np.array(region.image)) for region in stage.regions(rgb, size)]

    try:
        return _decode(source, stage.draft_size(size), max_pixels, name, regions)
    except NothingFound as reason:
        raise BadImage(name or ("<bytes>" if isinstance(source, bytes) else source), str(reason)) from None


def _decode(source: str | Path | bytes, draft: int | None, max_pixels: int, name: str | None,
            then: Callable[[Image.Image], T]) -> T:
    """`then` applied to the decoded RGB image, inside the block that holds its pixels (they are released after)."""
    label: str | Path
    if isinstance(source, bytes):
        data, label = source, name or "<bytes>"
    else:
        data, label = read_image_file(source), name or source
    if not data:
        raise BadImage(label, "empty file (0 bytes)")
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            if width * height > max_pixels:
                limit = f"exceeds the {max_pixels}-pixel limit"
                raise TooManyPixels(label, f"decompression bomb: {width}x{height} pixels {limit}")
            if draft is not None:
                image.draft("RGB", (draft, draft))  # a no-op for every format but JPEG
            image.load()
            ImageOps.exif_transpose(image, in_place=True)
            return then(to_rgb(image))  # the decoded image itself when it is RGB already: one full-size copy fewer
    except UnidentifiedImageError as error:
        raise BadImage(label, "not an image") from error
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise TooManyPixels(label, f"decompression bomb: {error}") from error
    except _DECODER_FAILURES as error:
        raise BadImage(label, _describe(error)) from error


def _describe(error: Exception) -> str:
    message = str(error).lower()
    if isinstance(error, EOFError) or "truncated" in message or "eof" in message:
        return "truncated file"
    return f"cannot decode: {str(error) or type(error).__name__}"


def to_rgb(image: Image.Image) -> Image.Image:
    """`image` in RGB mode, as every decoder path makes it (see `decode_rgb`)."""
    if image.mode in _WIDE_GREY_MODES:
        grey = np.rint(np.clip(np.asarray(image), 0, 65535) / 257).astype(np.uint8)
        return Image.fromarray(grey).convert("RGB")
    if image.mode == "F":
        return Image.fromarray(_stretch_to_bytes(np.asarray(image))).convert("RGB")
    if image.has_transparency_data:
        rgba = image.convert("RGBA")
        return Image.alpha_composite(Image.new("RGBA", rgba.size, _WHITE), rgba).convert("RGB")
    return image if image.mode == "RGB" else image.convert("RGB")


def _stretch_to_bytes(values: np.ndarray) -> np.ndarray:
    """Floating-point images have no standard range (0..1, 0..255, physical units), so map each one's own range."""
    finite = np.where(np.isfinite(values), values, 0.0)
    low, high = float(finite.min()), float(finite.max())
    if high == low:
        return np.zeros(values.shape, dtype=np.uint8)
    return np.rint((finite - low) * (255 / (high - low))).astype(np.uint8)


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes, read in chunks so that large files need little memory."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
