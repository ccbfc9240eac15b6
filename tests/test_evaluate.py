import numpy as np
import pytest
from imagegen import TINY_CONFIG, write_image_folder

from lookalike.embed import EmbedSettings
from lookalike.errors import LookalikeError
from lookalike.evaluate import _retrieval, evaluate
from lookalike.models import create_encoder

SETTINGS = EmbedSettings(workers=0, precision="fp32")


@pytest.fixture
def splits(tmp_path):
    write_image_folder(tmp_path / "train", classes=3, per_class=4)
    write_image_folder(tmp_path / "test", classes=3, per_class=2)
    return tmp_path / "train", tmp_path / "test"


def test_scores_come_from_features_computed_once_and_cached(splits, tmp_path):
    encoder = create_encoder(TINY_CONFIG, seed=0)
    first = evaluate(encoder, *splits, settings=SETTINGS, cache_dir=tmp_path / "cache")
    assert first.feature_seconds > 0
    assert len(list((tmp_path / "cache").glob("*.safetensors"))) == 2  # one file per split
    again = evaluate(encoder, *splits, settings=SETTINGS, cache_dir=tmp_path / "cache")
    assert again.feature_seconds == 0.0
    assert again.to_dict() | {"feature_seconds": 0} == first.to_dict() | {"feature_seconds": 0}
    assert first.probe.classes == 3 and first.retrieval.queries == 6
    assert "12 images, 3 classes" in first.train


def test_a_damaged_cache_file_is_recomputed(splits, tmp_path):
    encoder = create_encoder(TINY_CONFIG, seed=0)
    first = evaluate(encoder, *splits, settings=SETTINGS, cache_dir=tmp_path / "cache")
    for file in (tmp_path / "cache").glob("*.safetensors"):
        file.write_bytes(b"garbage")
    again = evaluate(encoder, *splits, settings=SETTINGS, cache_dir=tmp_path / "cache")
    assert again.feature_seconds > 0 and again.knn_top1 == first.knn_top1


def test_other_weights_do_not_reuse_the_cache(splits, tmp_path):
    evaluate(create_encoder(TINY_CONFIG, seed=0), *splits, settings=SETTINGS, cache_dir=tmp_path / "cache")
    other = evaluate(create_encoder(TINY_CONFIG, seed=1), *splits, settings=SETTINGS, cache_dir=tmp_path / "cache")
    assert other.feature_seconds > 0


def test_a_test_class_missing_from_train_is_named(splits, tmp_path):
    write_image_folder(tmp_path / "test4", classes=4, per_class=1)
    with pytest.raises(LookalikeError, match="class3"):
        evaluate(create_encoder(TINY_CONFIG, seed=0), splits[0], tmp_path / "test4", settings=SETTINGS,
                 cache_dir=None)


def test_retrieval_ranks_the_train_split_for_each_test_query():
    train_x = np.array([[1, 0], [0.9, 0.1], [0, 1], [0.1, 0.9]], dtype=np.float32)
    train_y = np.array([0, 0, 1, 1])
    test_x = np.array([[1, 0.05], [0.95, 0.0]], dtype=np.float32)
    # Query 0 (class 0) ranks two class-0 items first; query 1 claims class 1, whose items rank last.
    scores = _retrieval(train_x, train_y, test_x, np.array([0, 1]))
    assert scores.precision_at_1 == 0.5 and scores.r_precision == 0.5 and scores.map_at_r == 0.5


def test_reading_another_layer_leaves_the_callers_encoder_as_it_was(splits):
    encoder = create_encoder(TINY_CONFIG, seed=0)
    result = evaluate(encoder, *splits, layer="backbone", settings=SETTINGS, cache_dir=None)
    assert result.layer == "backbone" and encoder.config == TINY_CONFIG
    with pytest.raises(LookalikeError, match="embedding layer"):
        evaluate(encoder, *splits, layer="layer3", settings=SETTINGS, cache_dir=None)
