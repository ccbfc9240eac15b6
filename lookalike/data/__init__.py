"""Image files in, RGB uint8 pixels out: discovery, decoding, splits and batched loading. Knows nothing of models."""

from __future__ import annotations

from lookalike.data.decode import MAX_PIXELS, BadImage, decode_rgb, file_sha256
from lookalike.data.discover import IMAGE_SUFFIXES, as_found, collect_images, find_images, label_for
from lookalike.data.loading import DecodedBatch, iter_decoded_batches
from lookalike.data.splits import split_indices

__all__ = [
    "IMAGE_SUFFIXES",
    "MAX_PIXELS",
    "as_found",
    "BadImage",
    "DecodedBatch",
    "collect_images",
    "decode_rgb",
    "file_sha256",
    "find_images",
    "iter_decoded_batches",
    "label_for",
    "split_indices",
]
