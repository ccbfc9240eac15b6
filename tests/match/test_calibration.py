import json
from collections import Counter

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from lookalike.errors import LookalikeError
from lookalike.match import Calibration, calibrate, choose_threshold, labelled_pairs
from lookalike.report.roc import plot_roc


def _rates(distances, same, threshold):
    """FAR and TAR at τ straight from the raw pairs, with the library's rule: accept when d < τ."""
    distances, same = np.asarray(distances, dtype=np.float64), np.asarray(same, dtype=bool)
    accepted = distances < threshold
    return accepted[~same].mean(), accepted[same].mean()


def _overlapping_grids():
    # Genuine at 0.000, 0.001, ..., 0.600 and impostor at 0.400, ..., 1.000: 601 each, the same spacing, and the
    # shared values are the same floats (k / 1000 for the same k), so they tie exactly.
    genuine = np.arange(0, 601) / 1000
    impostor = np.arange(400, 1001) / 1000
    distances = np.concatenate([genuine, impostor])
    same = np.concatenate([np.ones(601, bool), np.zeros(601, bool)])
    return distances, same


def test_overlapping_grids_have_the_known_eer_near_threshold_one_half():
    distances, same = _overlapping_grids()
    calibration = calibrate(distances, same)
    # Continuous limit: FAR = (τ - 0.4) / 0.6 and FRR = (0.6 - τ) / 0.6 cross at τ = 0.5, EER = 0.1 / 0.6 = 1/6.
    # On the grid the two candidates around 0.5 are equally close (|FAR - FRR| = 1/601); the lower one is taken:
    # accept d <= 0.499, FAR = 100/601, FRR = 101/601, EER = 100.5/601, τ = 0.4995.
    assert calibration.eer == pytest.approx(100.5 / 601, abs=1e-12)
    assert calibration.eer == pytest.approx(1 / 6, abs=1 / 601)
    assert calibration.eer_threshold == pytest.approx(0.4995, abs=1e-12)
    far, tar = _rates(distances, same, calibration.eer_threshold)
    assert (far + 1 - tar) / 2 == pytest.approx(calibration.eer, abs=1e-12)
    assert calibration.genuine == calibration.impostor == 601
    assert calibration.auc == pytest.approx(roc_auc_score(same, -distances), abs=1e-12)


def test_separable_scores_reach_full_tar_at_zero_far():
    distances = np.array([0.05, 0.1, 0.2, 0.3, 0.7, 0.8, 0.9, 1.2])
    same = np.array([1, 1, 1, 1, 0, 0, 0, 0])
    calibration = calibrate(distances, same, far_targets=(0.0, 1e-2))
    assert calibration.auc == 1.0
    assert calibration.eer == 0.0
    assert calibration.eer_threshold == pytest.approx(0.5)  # midway between the last genuine and first impostor
    assert calibration.tar_at_far == {0.0: 1.0, 1e-2: 1.0}
    assert _rates(distances, same, calibration.threshold_at_far[1e-2]) == (0.0, 1.0)


def test_reversed_scores_have_zero_auc():
    distances = np.array([0.05, 0.1, 0.2, 0.7, 0.8, 0.9])
    same = np.array([0, 0, 0, 1, 1, 1])
    calibration = calibrate(distances, same)
    assert calibration.auc == 0.0
    assert calibration.tar_at_far[1e-2] == 0.0
    assert _rates(distances, same, calibration.threshold_at_far[1e-2]) == (0.0, 0.0)
    assert calibration.eer == 1.0  # FAR and FRR only meet once every impostor and no genuine pair is accepted
    assert calibration.eer_threshold == pytest.approx(0.45)


def test_auc_matches_sklearn_with_ties():
    rng = np.random.default_rng(3)
    for _ in range(5):
        same = rng.random(400) < 0.3
        distances = np.round(rng.random(400) + 0.3 * ~same, 1)  # rounding makes many ties, within and across
        calibration = calibrate(distances, same)
        assert calibration.auc == pytest.approx(roc_auc_score(same, -distances), abs=1e-12)
        assert np.all(np.diff(calibration.roc_far) >= 0) and np.all(np.diff(calibration.roc_tar) >= 0)
        assert calibration.roc_far[0] == calibration.roc_tar[0] == 0.0
        assert calibration.roc_far[-1] == calibration.roc_tar[-1] == 1.0


def test_tar_at_far_never_exceeds_the_far_target():
    rng = np.random.default_rng(5)
    same = np.concatenate([np.ones(300, bool), np.zeros(3000, bool)])
    distances = np.concatenate([rng.normal(0.4, 0.15, 300), rng.normal(0.8, 0.15, 3000)])
    distances[::7] = np.round(distances[::7], 2)  # some ties too
    targets = (0.0, 1e-3, 1e-2, 0.05, 0.2)
    calibration = calibrate(distances, same, far_targets=targets)
    for target in targets:
        threshold = calibration.threshold_at_far[target]
        far, tar = _rates(distances, same, threshold)
        assert far <= target
        assert tar == calibration.tar_at_far[target]
        # No threshold with FAR within the target does better: try every observed distance and the midpoints.
        values = np.unique(distances)
        candidates = np.concatenate([values, (values[:-1] + values[1:]) / 2, [values[-1] + 1]])
        best = max(t for f, t in (_rates(distances, same, c) for c in candidates) if f <= target)
        assert calibration.tar_at_far[target] == best
    tars = [calibration.tar_at_far[t] for t in targets]
    assert tars == sorted(tars)


def test_choose_threshold_at_eer_and_far_target():
    distances, same = _overlapping_grids()
    calibration = calibrate(distances, same, far_targets=(1e-2, 1e-3))
    assert choose_threshold(calibration) == calibration.eer_threshold
    threshold = choose_threshold(calibration, target_far=0.01)
    assert threshold == calibration.threshold_at_far[1e-2]
    far, tar = _rates(distances, same, threshold)
    # 1% of 601 impostors is 6.01: at most 6 accepted, those at 0.400 ... 0.405, so τ = 0.4055.
    assert far == 6 / 601 and threshold == pytest.approx(0.4055)
    assert tar == pytest.approx(406 / 601)
    with pytest.raises(LookalikeError, match=r"available: 0\.001, 0\.01"):
        choose_threshold(calibration, target_far=0.05)


def test_to_dict_is_json_ready_and_equality_ignores_roc_arrays():
    distances, same = _overlapping_grids()
    calibration = calibrate(distances, same)
    data = json.loads(json.dumps(calibration.to_dict()))
    assert set(data["tar_at_far"]) == {"0.01", "0.001"} == set(data["threshold_at_far"])
    assert "roc_far" not in data and data["genuine"] == 601
    assert calibrate(distances, same) == calibration
    assert isinstance(calibration, Calibration)


@pytest.mark.parametrize(
    "distances, same, message",
    [
        (np.array([0.1, 0.2]), np.array([1, 0, 1]), "2 distances but 3"),
        (np.ones((2, 2)), np.ones((2, 2)), "1-D"),
        (np.array([0.1, np.nan, 0.3]), np.array([1, 0, 0]), "NaN or infinite"),
        (np.array([0.1, 0.2]), np.array([1, 1]), "0 impostor"),
        (np.array([0.1, 0.2]), np.array([0, 0]), "0 genuine"),
        (np.array([0.1, 0.2]), np.array([2, 0]), "0/1"),
    ],
)
def test_calibrate_rejects_bad_input(distances, same, message):
    with pytest.raises(LookalikeError, match=message):
        calibrate(distances, same)


def test_calibrate_rejects_far_target_outside_unit_interval():
    with pytest.raises(LookalikeError, match="FAR target"):
        calibrate(np.array([0.1, 0.2]), np.array([1, 0]), far_targets=(1.5,))


def _check_pairs(labels, i, j, same):
    labels = np.asarray(labels)
    assert np.all(i < j)
    assert np.array_equal(same, labels[i] == labels[j])
    keys = i * len(labels) + j
    assert len(np.unique(keys)) == len(keys)


def test_labelled_pairs_lists_every_pair_when_few():
    labels = ["a", "b", "a", "c", "b", "a", "d"]
    i, j, same = labelled_pairs(labels)
    _check_pairs(labels, i, j, same)
    assert len(i) == 7 * 6 // 2  # everything: 3 + 1 genuine, the rest impostor
    assert same.sum() == 4


def test_labelled_pairs_samples_impostors_and_keeps_every_genuine_pair():
    rng = np.random.default_rng(0)
    labels = [f"id{k}" for k in rng.integers(0, 300, size=3000)]
    i, j, same = labelled_pairs(labels, max_impostors=5000, seed=1)
    _check_pairs(labels, i, j, same)
    assert same.sum() == sum(n * (n - 1) // 2 for n in Counter(labels).values())
    assert (~same).sum() == 5000
    again = labelled_pairs(labels, max_impostors=5000, seed=1)
    assert all(np.array_equal(a, b) for a, b in zip((i, j, same), again))
    other = labelled_pairs(labels, max_impostors=5000, seed=2)
    assert not np.array_equal(i, other[0]) or not np.array_equal(j, other[1])


def test_labelled_pairs_sampling_covers_impostor_pairs_uniformly():
    # One large identity and many singletons: a sampler that picked the first item uniformly would over-sample
    # pairs between singletons. Pairs touching the large identity are 40 * 60 of 40 * 60 + C(60, 2) impostor pairs.
    labels = ["big"] * 40 + [f"single{k}" for k in range(60)]
    impostors = 40 * 60 + 60 * 59 // 2
    i, j, same = labelled_pairs(labels, max_impostors=1000, seed=0)
    _check_pairs(labels, i, j, same)
    touching = np.sum(~same & ((i < 40) | (j < 40)))
    expected = 1000 * 40 * 60 / impostors
    assert abs(touching - expected) < 4 * np.sqrt(expected)


def test_labelled_pairs_takes_most_impostors_by_listing_them():
    labels = ["a"] * 5 + ["b"] * 5 + ["c"] * 5  # 75 impostor pairs, 60 wanted
    i, j, same = labelled_pairs(labels, max_impostors=60, seed=0)
    _check_pairs(labels, i, j, same)
    assert (~same).sum() == 60 and same.sum() == 30


def test_labelled_pairs_handles_ten_thousand_items_quickly():
    labels = [str(k % 2000) for k in range(10_000)]
    i, j, same = labelled_pairs(labels)
    assert same.sum() == 2000 * 10 and (~same).sum() == 200_000
    _check_pairs(labels, i, j, same)


@pytest.mark.parametrize(
    "labels, message",
    [(["a", "a", "a"], "no impostor pair"), (["a", "b", "c"], "no genuine pair"), ([], "no genuine pair")],
)
def test_labelled_pairs_needs_both_kinds(labels, message):
    with pytest.raises(LookalikeError, match=message):
        labelled_pairs(labels)


def test_labelled_pairs_rejects_a_bad_cap():
    with pytest.raises(LookalikeError, match="max_impostors"):
        labelled_pairs(["a", "a", "b"], max_impostors=0)


def test_plot_roc_writes_a_png(tmp_path):
    rng = np.random.default_rng(1)
    same = np.concatenate([np.ones(200, bool), np.zeros(2000, bool)])
    distances = np.concatenate([rng.normal(0.3, 0.1, 200), rng.normal(0.7, 0.1, 2000)])
    written = plot_roc(calibrate(distances, same), tmp_path / "out" / "roc.png")
    assert written == tmp_path / "out" / "roc.png"
    data = written.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 1000
    assert list((tmp_path / "out").iterdir()) == [written]  # no temporary file left behind
