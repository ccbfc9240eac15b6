"""Decoded images held in memory as uint8, so that training decodes each file once rather than once per epoch.

Training needs every image many times, and decoding a JPEG costs more than a small network's step on it. The cache
is one contiguous (N, 3, S, S) uint8 tensor: a quarter of the memory of float32, and one indexing operation per batch.
Files with the same content are kept once, so a randomly drawn negative is never a copy of its anchor.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from lookalike.data.decode import BadImage
from lookalike.data.loading import iter_decoded_batches
from lookalike.errors import LookalikeError
from lookalike.preprocess import Stage

DEFAULT_MAX_BYTES = 8 * 2**30


@dataclass
class ImageCache:
    """The images that decoded, in input order, and what became of the rest."""

    paths: list[Path]
    pixels: torch.Tensor
    """uint8, (len(paths), 3, size, size)."""
    skipped: list[BadImage] = field(default_factory=list)
    duplicates: list[Path] = field(default_factory=list)
    """Files dropped because an earlier file had the same bytes."""
    labels: list[str] | None = None
    """Each image's identity, when training reads them (one per entry of `paths`)."""

    def __len__(self) -> int:
        return len(self.paths)

    @property
    def size(self) -> int:
        return self.pixels.shape[-1]

    def subset(self, positions: Sequence[int] | np.ndarray) -> ImageCache:
        """The images at `positions` (a split), sharing nothing mutable with this cache."""
        positions = list(positions)
        labels = None if self.labels is None else [self.labels[i] for i in positions]
        return ImageCache([self.paths[i] for i in positions], self.pixels[positions].clone(), labels=labels)


def check_cache_size(count: int, size: int, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
    """Refuse, before anything is decoded, a cache of `count` images at `size` px larger than `max_bytes`."""
    needed = count * 3 * size * size
    if needed > max_bytes:
        raise LookalikeError(
            f"caching {count} images at {size} px needs {needed / 2**30:.1f} GiB, more than the "
            f"{max_bytes / 2**30:.1f} GiB allowed; use a smaller --image-size or fewer images"
        )


def cache_images(
    paths: Sequence[Path],
    size: int,
    *,
    workers: int | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    on_progress: Callable[[int], None] | None = None,
    stage: Stage | None = None,
    labels: Sequence[str] | None = None,
) -> ImageCache:
    """Decode `paths` to size x size, prepared by the preprocessing `stage` (by default the centre square), into
    one uint8 tensor; a region other than the whole image is named "<file>#<region>". `labels` (one per path) are
    kept beside the images that are kept.

    Refuses up front, before decoding anything, when the cache would exceed `max_bytes`.
    """
    check_cache_size(len(paths), size, max_bytes)
    pixels = torch.empty((len(paths), 3, size, size), dtype=torch.uint8)
    kept: list[Path] = []
    kept_labels: list[str] = []
    skipped: list[BadImage] = []
    duplicates: list[Path] = []
    seen: set[tuple[str, str]] = set()
    for batch in iter_decoded_batches(paths, size, workers=workers, stage=stage):
        skipped += batch.skipped
        for slot, index, digest, region in zip(batch.pixels, batch.indices, batch.sha256, batch.regions):
            name = paths[index] if not region else Path(f"{paths[index]}#{region}")
            if (digest, region) in seen:
                duplicates.append(name)
                continue
            seen.add((digest, region))
            if len(kept) == len(pixels):  # a stage found several regions in some files
                check_cache_size(len(pixels) * 2, size, max_bytes)
                pixels = torch.cat([pixels, torch.empty_like(pixels)])
            pixels[len(kept)] = slot
            kept.append(name)
            if labels is not None:
                kept_labels.append(labels[index])
        if on_progress:
            on_progress(batch.settled)
    return ImageCache(kept, pixels[: len(kept)].clone() if len(kept) < len(pixels) else pixels, skipped, duplicates,
                      kept_labels if labels is not None else None)
