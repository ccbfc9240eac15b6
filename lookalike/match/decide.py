"""The one-shot decisions, on embeddings alone: is this the claimed identity (1:1), and which enrolled identity is
it, if any (1:K)?

A pair is accepted when its distance is strictly below τ. An identity with several enrolled images is as close as
its nearest image ("nearest"), or as close as the mean of its images' embeddings ("mean"). Recognition answers the
closest identity, or None ("unknown") when even that one is not closer than τ; equally close identities resolve to
the first name in sorted order, so an answer never depends on storage order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from lookalike.errors import LookalikeError
from lookalike.match.scoring import CosineDistance, Distance

AGGREGATES = ("nearest", "mean")


@dataclass(frozen=True)
class Recognition:
    identity: str | None  # None: unknown
    distance: float  # to the closest identity, shown beside the decision whatever it is
    closest: str  # the closest identity, even when it was not close enough
    threshold: float  # the threshold it was decided at


def accepts(distance: float, threshold: float) -> bool:
    return distance < threshold


def identity_distances(
    queries: np.ndarray,
    vectors: np.ndarray,
    identities: Sequence[str],
    *,
    distance: Distance = CosineDistance(),
    aggregate: str = "nearest",
) -> tuple[list[str], np.ndarray]:
    """(sorted identity names, Q x K distances of each query to each identity)."""
    if aggregate not in AGGREGATES:
        raise LookalikeError(f"unknown aggregate {aggregate!r}; choose one of {', '.join(AGGREGATES)}")
    if len(vectors) != len(identities):
        raise ValueError("one identity per enrolled vector is needed")
    if not len(identities):
        raise LookalikeError("nobody is enrolled yet; enrol identities first (lookalike enroll)")
    names = sorted(set(identities))
    owner = np.array([names.index(name) for name in identities])
    if aggregate == "mean":
        means = np.stack([vectors[owner == k].mean(axis=0) for k in range(len(names))])
        means /= np.maximum(np.linalg.norm(means, axis=1, keepdims=True), 1e-12)
        return names, distance.pairwise(queries, means.astype(np.float32))
    to_images = distance.pairwise(queries, vectors)
    nearest = np.full((len(queries), len(names)), np.inf, dtype=np.float64)
    for k in range(len(names)):
        nearest[:, k] = to_images[:, owner == k].min(axis=1)
    return names, nearest


def recognise(
    queries: np.ndarray,
    vectors: np.ndarray,
    identities: Sequence[str],
    threshold: float,
    *,
    distance: Distance = CosineDistance(),
    aggregate: str = "nearest",
) -> list[Recognition]:
    """The closest enrolled identity of each query, or unknown when it is not closer than `threshold`."""
    names, distances = identity_distances(queries, vectors, identities, distance=distance, aggregate=aggregate)
    best = distances.argmin(axis=1)  # the first of equal minima: the first name in sorted order
    results = []
    for row, k in zip(distances, best):
        d = float(row[k])
        results.append(Recognition(names[k] if accepts(d, threshold) else None, d, names[k], threshold))
    return results
