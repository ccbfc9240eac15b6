"""Embedding labelled images, from files or from a data set's decoded pixels: the features that evaluation (the
probe, kNN, retrieval) and calibration (genuine and impostor pairs) both measure."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from lookalike.data import BadImage
from lookalike.data.arrays import LabelledImages, resize_square
from lookalike.embed import Embedder
from lookalike.errors import NothingReadable


@dataclass(frozen=True)
class Features:
    """Embeddings of labelled images, and the files that could not be read."""

    vectors: np.ndarray  # float32, N x D, unit length
    labels: list[str]
    skipped: list[BadImage] = field(default_factory=list)


def embed_labelled(
    embedder: Embedder,
    images: LabelledImages,
    on_plan: Callable[[int], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> Features:
    """Embed labelled images, files or decoded pixels; files that fail to decode are left out and listed, and when
    none decodes, `NothingReadable` says why for each."""
    if on_plan:
        on_plan(len(images))
    if images.paths is not None:
        result = embedder.embed_paths(images.paths, on_progress=on_progress)
        if not result.indices:
            raise NothingReadable(result.skipped)
        return Features(result.vectors, [images.labels[i] for i in result.indices], result.skipped)
    assert images.pixels is not None  # LabelledImages holds paths or pixels
    chunks = []
    batch = embedder.settings.batch_size
    for start in range(0, len(images), batch):
        pixels = resize_square(images.pixels[start:start + batch], embedder.image_size)
        chunks.append(embedder.embed_pixels(pixels))
        if on_progress:
            on_progress(len(pixels))
    return Features(np.concatenate(chunks), list(images.labels))
