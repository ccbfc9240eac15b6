"""Decoding many files in batches in worker processes, without letting one bad file stop the run.

Each file is read once: the same bytes are hashed (for caches and galleries) and decoded.
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from lookalike.data.decode import BadImage, decode_regions, read_image_file
from lookalike.preprocess import DEFAULT_STAGE, Stage, stage_named


@dataclass
class DecodedBatch:
    """The regions of one batch's files that decoded, and the files of that batch that did not."""

    indices: list[int]
    """Positions in the input path list, one per region in ``pixels`` (a file with several regions repeats)."""
    pixels: torch.Tensor
    """uint8, (B, 3, size, size), contiguous; B may be 0 when every file of the batch failed."""
    sha256: list[str]
    """Each region's file's content hash."""
    skipped: list[BadImage]
    regions: list[str] = field(default_factory=list)
    """Each region's name within its file ("" for the whole image, as the default stage gives)."""

    @property
    def settled(self) -> int:
        """How many files of the batch are done with, read or not."""
        return len(set(self.indices)) + len(self.skipped)

    def pin_memory(self) -> DecodedBatch:
        """DataLoader calls this on custom batch types when asked to pin memory; only the pixels go to a device."""
        return replace(self, pixels=self.pixels.pin_memory())


class _DecodedImage(NamedTuple):
    index: int  # type: ignore[assignment]  # a field, not tuple.index
    regions: list[tuple[str, np.ndarray]]
    sha256: str


class _DecodingDataset(Dataset):
    def __init__(self, paths: Sequence[Path], size: int, stage: Stage) -> None:
        self.paths = paths
        self.size = size
        self.stage = stage

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> _DecodedImage | BadImage:
        path = self.paths[index]
        try:
            data = read_image_file(path)
            regions = decode_regions(data, self.size, self.stage, name=str(path))
        except BadImage as failure:
            return failure
        return _DecodedImage(index, regions, hashlib.sha256(data).hexdigest())


def _collate(items: list[_DecodedImage | BadImage], size: int) -> DecodedBatch:
    decoded = [(item, key, region) for item in items if isinstance(item, _DecodedImage)
               for key, region in item.regions]
    pixels = np.empty((len(decoded), 3, size, size), dtype=np.uint8)
    for slot, (_, _, region) in zip(pixels, decoded):
        slot[...] = region.transpose(2, 0, 1)
    return DecodedBatch(
        indices=[item.index for item, _, _ in decoded],
        pixels=torch.from_numpy(pixels),
        sha256=[item.sha256 for item, _, _ in decoded],
        skipped=[item for item in items if isinstance(item, BadImage)],
        regions=[key for _, key, _ in decoded],
    )


def iter_decoded_batches(
    paths: Sequence[Path],
    size: int,
    *,
    batch_size: int = 64,
    workers: int | None = None,
    pin_memory: bool = False,
    stage: Stage | None = None,
) -> Iterator[DecodedBatch]:
    """Decode ``paths`` to size x size in batches of ``batch_size`` files, yielded in input order, each image made
    into inputs by the preprocessing ``stage`` (by default its centre square; a stage may find several regions).

    ``workers=None`` uses up to 4 processes and 0 decodes in this process. A worker decodes whole batches, so a single
    batch is always decoded in-process, where it needs no start-up. Failed files are reported in each batch's
    ``skipped``; a batch in which every file failed is still yielded, with no pixels.
    """
    if size < 1:
        raise ValueError(f"size must be >= 1, got {size}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if workers is not None and workers < 0:
        raise ValueError(f"workers must be >= 0 or None, got {workers}")
    if workers is None:
        workers = min(4, os.cpu_count() or 1)
    batch_count = math.ceil(len(paths) / batch_size)
    loader = DataLoader(
        _DecodingDataset(paths, size, stage or stage_named(DEFAULT_STAGE)),
        batch_size=batch_size,
        num_workers=min(workers, batch_count) if batch_count > 1 else 0,
        collate_fn=partial(_collate, size=size),
        pin_memory=pin_memory and torch.accelerator.is_available(),
    )
    return iter(loader)
