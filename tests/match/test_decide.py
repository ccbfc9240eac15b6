import numpy as np
import pytest
import torch

from lookalike.errors import LookalikeError
from lookalike.match.decide import identity_distances, recognise
from lookalike.match.scoring import CosineDistance, PairHeadDistance
from lookalike.models.pair_head import PairHead


def unit(*angles_degrees: float) -> np.ndarray:
    """Unit vectors in the plane at these angles: cosine distances between them are known exactly."""
    radians = np.deg2rad(angles_degrees)
    return np.stack([np.cos(radians), np.sin(radians)], axis=1).astype(np.float32)


GALLERY = unit(0, 90, 180)
NAMES = ["ann", "bob", "cy"]


def test_a_query_close_to_an_identity_is_named_with_its_distance():
    [result] = recognise(unit(10), GALLERY, NAMES, threshold=0.1)
    assert result.identity == "ann" and result.closest == "ann"
    assert result.distance == pytest.approx(1 - np.cos(np.deg2rad(10)), abs=1e-6)


def test_a_query_far_from_everyone_is_unknown_but_keeps_its_closest_and_distance():
    [result] = recognise(unit(45), GALLERY, NAMES, threshold=0.1)  # 1 - cos 45° = 0.293 from ann and bob
    assert result.identity is None and result.closest == "ann"
    assert result.distance == pytest.approx(1 - np.sqrt(0.5), abs=1e-6)


def test_a_distance_equal_to_tau_is_not_accepted():
    d = 1 - np.cos(np.deg2rad(10))
    [at] = recognise(unit(10), GALLERY, NAMES, threshold=float(np.float32(d)))
    [above] = recognise(unit(10), GALLERY, NAMES, threshold=float(d) + 1e-4)
    assert at.identity is None and above.identity == "ann"


def test_equally_close_identities_resolve_to_the_first_name_whatever_the_storage_order():
    for order in ([0, 1], [1, 0]):
        vectors, names = unit(0, 90)[order], [["ann", "bob"][i] for i in order]
        [result] = recognise(unit(45), vectors, names, threshold=0.5)
        assert result.identity == "ann"


def test_an_identity_with_several_images_counts_its_nearest_or_its_mean():
    vectors = unit(0, 80, 60)  # ann at 0° and 80°, bob at 60°
    names = ["ann", "ann", "bob"]
    [nearest] = recognise(unit(75), vectors, names, threshold=0.5)
    assert nearest.identity == "ann"  # 5° from ann's second image, 15° from bob
    [mean] = recognise(unit(75), vectors, names, threshold=0.5, aggregate="mean")
    assert mean.identity == "bob"  # ann's mean points at 40°, 35° away; bob is 15° away
    names_, distances = identity_distances(unit(75), vectors, names, aggregate="mean")
    assert names_ == ["ann", "bob"]
    np.testing.assert_allclose(distances[0], 1 - np.cos(np.deg2rad([35, 15])), atol=1e-6)


def test_nobody_enrolled_and_unknown_aggregate_are_clear_errors():
    with pytest.raises(LookalikeError, match="nobody is enrolled"):
        recognise(unit(0), np.zeros((0, 2), np.float32), [], threshold=0.5)
    with pytest.raises(LookalikeError, match="aggregate"):
        recognise(unit(0), GALLERY, NAMES, threshold=0.5, aggregate="median")


def test_the_pair_head_distance_is_one_minus_its_probability_in_both_layouts():
    head = PairHead(2)
    queries, references = unit(0, 30), unit(0, 90, 180)
    pairwise = PairHeadDistance(head).pairwise(queries, references)
    for i in range(2):
        for j in range(3):
            with torch.no_grad():
                query, reference = torch.from_numpy(queries[i:i + 1]), torch.from_numpy(references[j:j + 1])
                expected = 1 - head.probability(query, reference)
            assert pairwise[i, j] == pytest.approx(float(expected), abs=1e-6)
    assert pairwise[0, 0] < pairwise[0, 2]  # the untrained head already ranks identical above opposite
    np.testing.assert_allclose(CosineDistance().paired(queries, queries), [0, 0], atol=1e-6)
