"""Turning images into embeddings for inference, as fast as the machine allows.

Decoding runs in worker processes while the main process runs the encoder under inference mode, with its batch
norms folded into its convolutions (see lookalike.models.inference), in channels_last memory format, with bf16
autocast where the hardware has it (see lookalike.runtime).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from lookalike.data import BadImage, DecodedBatch, iter_decoded_batches
from lookalike.errors import LookalikeError
from lookalike.models import Encoder
from lookalike.models.inference import for_inference
from lookalike.preprocess import stage_named
from lookalike.runtime import PRECISIONS, autocast, autocast_dtype, pick_device


@dataclass(frozen=True)
class EmbedSettings:
    """How to run an encoder over files: images per batch, decoding processes (None: up to 4, 0: in this
    process), device (None: CUDA when present) and precision (auto: bf16 where the hardware makes it fast)."""

    batch_size: int = 64
    workers: int | None = None
    device: str | None = None
    precision: str = "auto"

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise LookalikeError(f"batch size must be at least 1, got {self.batch_size}")
        if self.workers is not None and self.workers < 0:
            raise LookalikeError(f"workers must be 0 or more, got {self.workers}")
        if self.precision not in PRECISIONS:
            raise LookalikeError(f"unknown precision {self.precision!r}; choose one of {', '.join(PRECISIONS)}")


@dataclass
class Embeddings:
    """The embeddings of the inputs that decoded, and the reasons the others did not."""

    indices: list[int] = field(default_factory=list)
    """The input each row of `vectors` came from: an input with several regions has several rows."""
    vectors: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))
    sha256: list[str] = field(default_factory=list)
    skipped: list[BadImage] = field(default_factory=list)
    regions: list[str] = field(default_factory=list)
    """Each row's region within its input ("" for the whole image)."""

    @property
    def settled(self) -> int:
        """How many inputs are done with, read or not."""
        return len(set(self.indices)) + len(self.skipped)

    def main_regions(self) -> Embeddings:
        """Only the first region of each input: the one a stage lists first (the faces stage, the largest face)."""
        keep = [row for row, index in enumerate(self.indices) if row == 0 or self.indices[row - 1] != index]
        return Embeddings([self.indices[row] for row in keep], self.vectors[keep], [self.sha256[row] for row in keep],
                          self.skipped, [self.regions[row] for row in keep])

    def crowded(self) -> dict[int, int]:
        """Each input with more than one region, and how many it has."""
        counts = Counter(self.indices)
        return {index: count for index, count in counts.items() if count > 1}


class Embedder:
    """Runs one encoder over image batches, through its own inference copy on the device (the encoder passed in
    is left alone)."""

    def __init__(self, encoder: Encoder, settings: EmbedSettings = EmbedSettings()) -> None:
        self.settings = settings
        self.device = pick_device(settings.device)
        self.dtype = autocast_dtype(self.device, settings.precision)
        self.encoder = for_inference(encoder).to(self.device).to(memory_format=torch.channels_last)
        self.image_size = encoder.config.image_size
        self.dim = encoder.config.embedding_dim
        self.stage = stage_named(encoder.config.preprocess)

    @torch.inference_mode()
    def embed_pixels(self, pixels: torch.Tensor) -> np.ndarray:
        """uint8 RGB batch (N x 3 x S x S) -> float32 unit vectors (N x dim)."""
        if len(pixels) == 0:
            return np.zeros((0, self.dim), np.float32)
        images = pixels.to(self.device, non_blocking=True).contiguous(memory_format=torch.channels_last)
        with autocast(self.device, self.dtype):
            return self.encoder(self.encoder.normalise(images)).cpu().numpy()  # fp32, unit length

    def embed_images(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """Embed decoded images held in memory: (S, S, 3) uint8 RGB arrays at the encoder's input size S."""
        pixels = np.empty((len(images), 3, self.image_size, self.image_size), dtype=np.uint8)
        for slot, image in zip(pixels, images):
            if image.shape != (self.image_size, self.image_size, 3) or image.dtype != np.uint8:
                raise ValueError(f"expected ({self.image_size}, {self.image_size}, 3) uint8 pixels, got "
                                 f"{image.shape} {image.dtype}")
            slot[...] = image.transpose(2, 0, 1)
        return self.embed_pixels(torch.from_numpy(pixels))

    def iter_paths(self, paths: Sequence[Path]) -> Iterator[tuple[DecodedBatch, np.ndarray]]:
        """Each decoded batch with its embeddings, in input order; bad files travel in batch.skipped."""
        batches = iter_decoded_batches(
            paths, self.image_size, batch_size=self.settings.batch_size, workers=self.settings.workers,
            pin_memory=self.device.type == "cuda", stage=self.stage,
        )
        for batch in batches:
            yield batch, self.embed_pixels(batch.pixels)

    def embed_paths(self, paths: Sequence[Path], *, on_progress: Callable[[int], None] | None = None) -> Embeddings:
        """Embed every file in `paths`; `on_progress(n)` is told how many files each batch settled."""
        result = Embeddings(vectors=np.zeros((0, self.dim), np.float32))
        chunks = []
        for batch, vectors in self.iter_paths(paths):
            result.indices += batch.indices
            result.sha256 += batch.sha256
            result.regions += batch.regions
            result.skipped += batch.skipped
            chunks.append(vectors)
            if on_progress:
                on_progress(batch.settled)
        if chunks:
            result.vectors = np.concatenate(chunks)
        return result
