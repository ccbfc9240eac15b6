"""Images that arrive already decoded, as one uint8 array (STL-10, CIFAR-10), rather than as files.

Public benchmark sets ship their pixels in a few large binary files. Decoding them image by image through the file
path machinery would be slow and pointless, so they are kept as one (N, 3, H, W) uint8 tensor, the same form the
decoded-image cache uses, and resized a chunk at a time so that a resize never needs a float copy of the whole set.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torchvision.transforms.v2 import InterpolationMode
from torchvision.transforms.v2 import functional as F


@dataclass
class LabelledImages:
    """Images with class labels, for evaluation: either files to decode or pixels already decoded."""

    labels: list[str]
    source: str
    """Where the images came from, for people: e.g. "/x/stl10_binary (test split)"."""
    paths: list[Path] | None = None
    """Image files (an image folder); decoded later by the caller."""
    pixels: torch.Tensor | None = None
    """uint8, (N, 3, H, W): data sets that ship decoded pixels (STL-10, CIFAR-10)."""

    def __post_init__(self) -> None:
        if (self.paths is None) == (self.pixels is None):
            raise ValueError("LabelledImages needs exactly one of paths and pixels")
        count = len(self.paths) if self.paths is not None else len(self.pixels)  # type: ignore[arg-type]
        if len(self.labels) != count:
            raise ValueError(f"LabelledImages has {len(self.labels)} labels for {count} images")

    def __len__(self) -> int:
        return len(self.labels)


def resize_square(pixels: torch.Tensor, size: int, chunk: int = 1024) -> torch.Tensor:
    """uint8 (N, 3, H, W) to uint8 (N, 3, size, size): shorter side scaled to `size`, centre cropped.

    The central square is cut first and then resized in one antialiased bilinear step, `chunk` images at a time, so
    memory beyond the result stays bounded. Pixels already size x size are returned as they are, not copied.
    """
    if pixels.dtype != torch.uint8 or pixels.ndim != 4 or pixels.shape[1] != 3:
        raise ValueError(f"expected uint8 (N, 3, H, W) pixels, got {pixels.dtype} {tuple(pixels.shape)}")
    if size < 1:
        raise ValueError(f"size must be >= 1, got {size}")
    height, width = pixels.shape[-2:]
    if height == width == size:
        return pixels
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    square = pixels[:, :, top : top + side, left : left + side]
    resized = torch.empty((pixels.shape[0], 3, size, size), dtype=torch.uint8)
    for start in range(0, pixels.shape[0], chunk):
        part = square[start : start + chunk].contiguous()
        resized[start : start + chunk] = F.resize(
            part, [size, size], interpolation=InterpolationMode.BILINEAR, antialias=True
        )
    return resized
