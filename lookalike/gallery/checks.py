"""The checks every store makes on what it is handed, so that each kind refuses the same bad input the same way."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from lookalike.errors import LookalikeError
from lookalike.gallery.records import ImageRecord
from lookalike.gallery.vector_index import INDEX_KINDS

UNIT_NORM_TOLERANCE = 1e-3


def check_index_kind(kind: str) -> None:
    if kind not in INDEX_KINDS:
        raise LookalikeError(f"unknown index kind {kind!r}: choose one of {', '.join(INDEX_KINDS)}")


def unit_vectors(array: np.ndarray, dim: int, what: str) -> np.ndarray:
    """``array`` as C-contiguous float32 rows, refusing anything that would make inner product differ from cosine."""
    array = np.asarray(array)
    if array.ndim != 2 or array.shape[1] != dim:
        raise ValueError(f"{what} must have shape (n, {dim}), not {array.shape}")
    if not np.issubdtype(array.dtype, np.floating):
        raise ValueError(f"{what} must be floating point, not {array.dtype}")
    array = np.ascontiguousarray(array, dtype=np.float32)
    if not np.isfinite(array).all():
        raise ValueError(f"{what} contain NaN or infinity")
    norms = np.linalg.norm(array, axis=1)
    worst = np.abs(norms - 1.0).max(initial=0.0)
    if worst > UNIT_NORM_TOLERANCE:
        raise ValueError(f"{what} must be L2-normalised; a norm is off from 1 by {worst:.3g}")
    return array


def check_records(records: Sequence[ImageRecord], vector_count: int) -> None:
    if len(records) != vector_count:
        raise ValueError(f"{len(records)} records but {vector_count} vectors")
    keys = [(record.path, record.region) for record in records]
    if len(set(keys)) != len(keys):
        raise ValueError("a region of a file appears more than once in one add")
    relative = next((path for path, _ in keys if not os.path.isabs(path)), None)
    if relative is not None:
        raise ValueError(f"image paths must be absolute, not {relative!r}")


def check_query_args(k: int, exclude: Sequence[set[int] | None] | None, query_count: int) -> list[set[int]]:
    """Refuse a bad ``k`` or ``exclude``; returns the ids to leave out of each query's hits."""
    if k < 1:
        raise ValueError(f"k must be at least 1, not {k}")
    if exclude is None:
        return [set()] * query_count
    if len(exclude) != query_count:
        raise ValueError(f"exclude has {len(exclude)} entries for {query_count} queries")
    return [set(ids or ()) for ids in exclude]
