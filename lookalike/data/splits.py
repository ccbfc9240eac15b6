"""Train/validation splits that depend only on the number of items and a seed, so a run can be repeated exactly."""

from __future__ import annotations

import numpy as np


def split_indices(n: int, train_fraction: float = 0.8, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Shuffle ``range(n)`` with ``seed`` and cut it in two: ``round(n * train_fraction)`` train indices, the rest
    for validation. Both parts are sorted so that reading them walks the files in order."""
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if not 0 < train_fraction < 1:
        raise ValueError(f"train_fraction must be between 0 and 1 (exclusive), got {train_fraction}")
    shuffled = np.random.default_rng(seed).permutation(n)
    train_count = round(n * train_fraction)
    return np.sort(shuffled[:train_count]), np.sort(shuffled[train_count:])
