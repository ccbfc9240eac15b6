from __future__ import annotations

import numpy as np
import pytest

from lookalike.data import split_indices


def test_same_seed_gives_the_same_split() -> None:
    first, second = split_indices(50, seed=3), split_indices(50, seed=3)
    assert np.array_equal(first[0], second[0]) and np.array_equal(first[1], second[1])


def test_another_seed_gives_another_split() -> None:
    assert not np.array_equal(split_indices(50, seed=0)[1], split_indices(50, seed=1)[1])


def test_default_is_eighty_twenty_disjoint_covering_and_sorted() -> None:
    train, valid = split_indices(100)

    assert (len(train), len(valid)) == (80, 20)
    assert np.intersect1d(train, valid).size == 0
    assert np.array_equal(np.sort(np.concatenate([train, valid])), np.arange(100))
    assert np.array_equal(train, np.sort(train)) and np.array_equal(valid, np.sort(valid))
    assert not np.array_equal(valid, np.arange(80, 100))  # shuffled, not the tail


@pytest.mark.parametrize(("n", "fraction", "train_count"), [(7, 0.8, 6), (10, 0.3, 3), (1, 0.8, 1), (0, 0.8, 0)])
def test_train_part_has_round_n_times_fraction_items(n: int, fraction: float, train_count: int) -> None:
    train, valid = split_indices(n, fraction)
    assert (len(train), len(valid)) == (train_count, n - train_count)


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1, 1.5])
def test_fraction_outside_zero_one_is_refused(fraction: float) -> None:
    with pytest.raises(ValueError, match="train_fraction"):
        split_indices(10, fraction)


def test_negative_count_is_refused() -> None:
    with pytest.raises(ValueError, match="n must be"):
        split_indices(-1)
