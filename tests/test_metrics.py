import math

import numpy as np
import pytest

from lookalike.metrics import retrieval_scores


def test_hand_computed_case():
    # Query "a" has R = 3 relevant items; ranks 1 and 3 are relevant.
    # P@1 = 1, R-precision = 2/3, mAP@R = (1/1 + 2/3) / 3.
    scores = retrieval_scores(["a"], [["a", "b", "a", "a"]], [3])
    assert scores.precision_at_1 == 1
    assert scores.r_precision == pytest.approx(2 / 3)
    assert scores.map_at_r == pytest.approx((1 + 2 / 3) / 3)
    assert scores.queries == 1


def test_perfect_and_worst_rankings():
    perfect = retrieval_scores(["a", "b"], [["a", "a", "b"], ["b", "a", "a"]], [2, 1])
    assert (perfect.precision_at_1, perfect.r_precision, perfect.map_at_r) == (1, 1, 1)
    worst = retrieval_scores(["a"], [["b", "b", "a", "a"]], [2])
    assert (worst.precision_at_1, worst.r_precision, worst.map_at_r) == (0, 0, 0)


def test_queries_without_relevant_items_are_left_out_and_short_lists_count_as_misses():
    scores = retrieval_scores(["a", "z"], [["a"], ["a"]], [2, 0])
    assert scores.queries == 1
    assert scores.r_precision == pytest.approx(0.5)
    assert math.isnan(retrieval_scores(["z"], [["a"]], [0]).map_at_r)


def test_agrees_with_a_direct_definition_on_random_rankings():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 4, size=(50, 30)).astype(str)
    queries = rng.integers(0, 4, size=50).astype(str)
    counts = [int((row == q).sum()) for row, q in zip(labels, queries)]  # the whole gallery is ranked
    scores = retrieval_scores(list(queries), [list(row) for row in labels], counts)
    expected = []
    for row, q, r in zip(labels, queries, counts):
        if r:
            hits = [row[i] == q for i in range(r)]
            expected.append(sum(sum(hits[: i + 1]) / (i + 1) for i in range(r) if hits[i]) / r)
    assert scores.map_at_r == pytest.approx(np.mean(expected))


def test_lengths_must_agree():
    with pytest.raises(ValueError):
        retrieval_scores(["a"], [], [1])
