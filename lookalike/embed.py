"""Turning images into embeddings for inference, as fast as the machine allows.

Decoding runs in worker processes while the main process runs the encoder under inference mode, in channels_last
memory format, with bf16 autocast where the hardware has it (see lookalike.runtime).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from lookalike.data import BadImage, DecodedBatch, iter_decoded_batches
from lookalike.models import Encoder
from lookalike.runtime import autocast, autocast_dtype, pick_device


@dataclass
class Embeddings:
    """The embeddings of the inputs that decoded, and the reasons the others did not."""

    indices: list[int] = field(default_factory=list)
    vectors: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))
    sha256: list[str] = field(default_factory=list)
    failures: list[BadImage] = field(default_factory=list)


class Embedder:
    """Runs one encoder over image batches. It moves the encoder to its device and memory format for good."""

    def __init__(self, encoder: Encoder, *, device: str | None = None, precision: str = "auto") -> None:
        self.device = pick_device(device)
        self.dtype = autocast_dtype(self.device, precision)
        self.encoder = encoder.eval().to(self.device, memory_format=torch.channels_last)
        self.image_size = encoder.config.image_size
        self.dim = encoder.config.embedding_dim

    @torch.inference_mode()
    def embed_pixels(self, pixels: torch.Tensor) -> np.ndarray:
        """uint8 RGB batch (N x 3 x S x S) -> float32 unit vectors (N x dim)."""
        if len(pixels) == 0:
            return np.zeros((0, self.dim), np.float32)
        images = pixels.to(self.device, non_blocking=True).contiguous(memory_format=torch.channels_last)
        with autocast(self.device, self.dtype):
            return self.encoder(self.encoder.normalise(images)).cpu().numpy()  # fp32, unit length

    def iter_paths(
        self, paths: Sequence[Path], *, batch_size: int = 64, workers: int | None = None
    ) -> Iterator[tuple[DecodedBatch, np.ndarray]]:
        """Each decoded batch with its embeddings, in input order; bad files travel in batch.failures."""
        batches = iter_decoded_batches(
            paths, self.image_size, batch_size=batch_size, workers=workers, pin_memory=self.device.type == "cuda"
        )
        for batch in batches:
            yield batch, self.embed_pixels(batch.pixels)

    def embed_paths(
        self,
        paths: Sequence[Path],
        *,
        batch_size: int = 64,
        workers: int | None = None,
        on_progress: Callable[[int], None] | None = None,
    ) -> Embeddings:
        """Embed every file in `paths`; `on_progress(n)` is told how many files each batch settled."""
        result = Embeddings(vectors=np.zeros((0, self.dim), np.float32))
        chunks = []
        for batch, vectors in self.iter_paths(paths, batch_size=batch_size, workers=workers):
            result.indices += batch.indices
            result.sha256 += batch.sha256
            result.failures += batch.failures
            chunks.append(vectors)
            if on_progress:
                on_progress(len(batch.indices) + len(batch.failures))
        if chunks:
            result.vectors = np.concatenate(chunks)
        return result
