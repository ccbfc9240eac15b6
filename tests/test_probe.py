import math

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression

from lookalike.errors import LookalikeError
from lookalike.probe import _fit_logistic, knn_accuracy, linear_probe


def clusters(classes: int, per_class: int, dim: int = 32, spread: float = 10.0, seed: int = 0):
    """Gaussian clusters with unit noise around centres `spread` apart on average, as float32 / int64 arrays."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(classes, dim)) * spread
    labels = np.repeat(np.arange(classes), per_class)
    features = centres[labels] + rng.normal(size=(len(labels), dim))
    order = rng.permutation(len(labels))
    return features[order].astype(np.float32), labels[order].astype(np.int64)


def split(classes: int, train_per_class: int, test_per_class: int, **kwargs):
    x, y = clusters(classes, train_per_class + test_per_class, **kwargs)
    cut = classes * train_per_class
    return x[:cut], y[:cut], x[cut:], y[cut:]


def test_linear_probe_separates_far_apart_clusters():
    scores = linear_probe(*split(8, 40, 25))
    assert scores.top1 >= 0.98
    assert scores.top5 >= scores.top1
    assert scores.train_top1 >= 0.98
    assert scores.classes == 8


def test_top5_is_trivially_perfect_with_five_classes_or_fewer():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(100, 8)).astype(np.float32)
    scores = linear_probe(x[:60], rng.integers(0, 5, 60), x[60:], rng.integers(0, 5, 40))
    assert scores.top5 == 1.0
    assert scores.classes == 5


def test_linear_probe_is_near_chance_when_features_say_nothing_about_labels():
    # Features are noise and every label is drawn independently, so nothing carries over to the test split; a
    # probe that looked at the test labels would score far above chance (1/4) here.
    rng = np.random.default_rng(2)
    train_x, test_x = rng.normal(size=(300, 32)), rng.normal(size=(400, 32))
    train_y, test_y = rng.integers(0, 4, 300), rng.integers(0, 4, 400)
    scores = linear_probe(train_x, train_y, test_x, test_y)
    assert scores.top1 < 0.5
    assert scores.train_top1 > scores.top1  # it can fit the training labels it was given


def test_probe_fits_the_same_model_as_scikit_learn():
    # mean cross-entropy + wd * ||W||^2 has the same minimiser as sklearn's 0.5 * ||W||^2 + C * sum(cross-entropy)
    # with C = 1 / (2 * wd * N); neither penalises the bias.
    rng = np.random.default_rng(3)
    x = rng.normal(size=(200, 6))
    y = (x[:, 0] + 0.5 * x[:, 1] + rng.normal(size=200) > 0).astype(np.int64) + (x[:, 2] > 0.5)
    weight_decay = 1e-2
    weight, bias = _fit_logistic(torch.from_numpy(x), torch.from_numpy(y), 3, weight_decay, 500)
    reference = LogisticRegression(C=1 / (2 * weight_decay * len(x)), tol=1e-10, max_iter=10_000).fit(x, y)
    ours = torch.softmax(torch.from_numpy(x) @ weight.T + bias, dim=1).numpy()
    np.testing.assert_allclose(ours, reference.predict_proba(x), atol=1e-5)
    np.testing.assert_allclose(weight.numpy(), reference.coef_, atol=1e-4)


def test_label_ids_need_not_be_contiguous():
    train_x, train_y, test_x, test_y = split(4, 30, 10, spread=1.0)
    ids = np.array([3, 10, 42, 7])
    assert linear_probe(train_x, ids[train_y], test_x, ids[test_y]) == linear_probe(train_x, train_y, test_x, test_y)
    assert knn_accuracy(train_x, ids[train_y], test_x, ids[test_y]) == knn_accuracy(train_x, train_y, test_x, test_y)


def test_same_inputs_give_the_same_scores():
    data = split(6, 30, 20, spread=0.8)
    assert linear_probe(*data) == linear_probe(*data)
    assert knn_accuracy(*data) == knn_accuracy(*data)


@pytest.mark.parametrize("score", [linear_probe, knn_accuracy])
def test_a_test_class_missing_from_training_is_named(score):
    train_x, train_y, test_x, test_y = split(3, 10, 5)
    test_y = test_y.copy()
    test_y[0] = 7
    with pytest.raises(LookalikeError, match="7"):
        score(train_x, train_y, test_x, test_y)


@pytest.mark.parametrize("score", [linear_probe, knn_accuracy])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_features_are_refused(score, bad):
    train_x, train_y, test_x, test_y = split(3, 10, 5)
    test_x = test_x.copy()
    test_x[2, 4] = bad
    with pytest.raises(LookalikeError, match="NaN or infinite"):
        score(train_x, train_y, test_x, test_y)


@pytest.mark.parametrize("score", [linear_probe, knn_accuracy])
def test_shapes_must_agree(score):
    train_x, train_y, test_x, test_y = split(3, 10, 5)
    with pytest.raises(LookalikeError, match="width"):
        score(train_x, train_y, test_x[:, :-1], test_y)
    with pytest.raises(LookalikeError, match="labels for"):
        score(train_x, train_y[:-1], test_x, test_y)
    with pytest.raises(LookalikeError, match="2-D"):
        score(train_x[0], train_y, test_x, test_y)
    with pytest.raises(LookalikeError, match="1-D"):
        score(train_x, train_y[:, None], test_x, test_y)
    with pytest.raises(LookalikeError, match="integer"):
        score(train_x, train_y.astype(np.float32), test_x, test_y)
    with pytest.raises(LookalikeError, match="at least 2 classes"):
        score(train_x, np.zeros_like(train_y), test_x, np.zeros_like(test_y))


def test_probe_settings_are_checked():
    data = split(3, 10, 5)
    with pytest.raises(LookalikeError, match="weight decay"):
        linear_probe(*data, weight_decay=-1.0)
    with pytest.raises(LookalikeError, match="max_iter"):
        linear_probe(*data, max_iter=0)


def test_knn_is_perfect_on_far_apart_clusters():
    assert knn_accuracy(*split(8, 40, 25)) == 1.0


def test_knn_weighting_lets_one_close_neighbour_outvote_two_far_ones():
    # The test item lies along the x-axis. Class 0 has two neighbours at +-0.5 rad, class 1 one at 0.1 rad, and
    # a class-2 item points the other way, so with k = 3 it never votes. Class 1 wins while
    # 1 > 2 * exp((cos 0.5 - cos 0.1) / T), i.e. below T* = (cos 0.1 - cos 0.5) / ln 2; above T* class 0 wins.
    angles = np.array([0.5, -0.5, 0.1, math.pi])
    train_x = np.stack([np.cos(angles), np.sin(angles)], axis=1) * np.array([[3.0], [0.2], [1.0], [5.0]])
    train_y = np.array([0, 0, 1, 2])
    test_x = np.array([[2.0, 0.0]])
    crossover = (math.cos(0.1) - math.cos(0.5)) / math.log(2)
    for temperature, winner in [(0.01, 1), (0.9 * crossover, 1), (1.1 * crossover, 0), (1e6, 0)]:
        for label in (0, 1, 2):
            expected = 1.0 if label == winner else 0.0
            assert knn_accuracy(train_x, train_y, test_x, np.array([label]), k=3, temperature=temperature) == expected
    # With k = 4 the opposite item votes too, with the least weight; at k = 1 only the closest counts.
    assert knn_accuracy(train_x, train_y, test_x, np.array([0]), k=4, temperature=1e6) == 1.0
    assert knn_accuracy(train_x, train_y, test_x, np.array([1]), k=1, temperature=1e6) == 1.0


def test_knn_matches_a_direct_computation_whatever_the_chunk_size():
    rng = np.random.default_rng(4)
    train_x, test_x = rng.normal(size=(120, 16)), rng.normal(size=(70, 16))
    train_y, test_y = rng.integers(0, 5, 120), rng.integers(0, 5, 70)
    k, temperature = 7, 0.2
    a = train_x / np.linalg.norm(train_x, axis=1, keepdims=True)
    b = test_x / np.linalg.norm(test_x, axis=1, keepdims=True)
    similarity = b @ a.T
    predictions = []
    for row in similarity:
        nearest = np.argsort(-row)[:k]
        votes = np.zeros(5)
        np.add.at(votes, train_y[nearest], np.exp(row[nearest] / temperature))
        predictions.append(votes.argmax())
    expected = float(np.mean(np.array(predictions) == test_y))
    for chunk in (1, 16, 1024):
        assert knn_accuracy(train_x, train_y, test_x, test_y, k=k, temperature=temperature, chunk=chunk) == (
            pytest.approx(expected, abs=1e-12)
        )


def test_knn_caps_k_at_the_training_set_size():
    train_x, train_y, test_x, test_y = split(3, 4, 5)
    assert knn_accuracy(train_x, train_y, test_x, test_y, k=1000) == knn_accuracy(
        train_x, train_y, test_x, test_y, k=len(train_x)
    )


@pytest.mark.parametrize(
    ("settings", "message"),
    [({"k": 0}, "k must"), ({"temperature": 0.0}, "temperature"), ({"temperature": -1.0}, "temperature"),
     ({"chunk": 0}, "chunk")],
)
def test_knn_settings_are_checked(settings, message):
    with pytest.raises(LookalikeError, match=message):
        knn_accuracy(*split(3, 10, 5), **settings)
