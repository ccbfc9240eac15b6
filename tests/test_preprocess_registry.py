"""A new preprocessing stage is one registration, recorded in the model's config: every path an image takes to
that model (indexing, search, images held in memory, uploads, training) then goes through it."""

from dataclasses import dataclass, field

import numpy as np
import pytest
from PIL import Image
from imagegen import TINY_CONFIG

import lookalike
from lookalike.embed import EmbedSettings
from lookalike.errors import LookalikeError
from lookalike.images import Encoded
from lookalike.models import EncoderConfig
from lookalike.preprocess import Region, register_stage, stage_named, stage_names
from lookalike.training import TrainSettings

SETTINGS = EmbedSettings(workers=0, precision="fp32")


@dataclass(frozen=True)
class Squash:
    """The whole image scaled to a square, its proportions lost; counts its calls (all in this process here)."""

    name: str = "squash-for-tests"
    views: str | None = None
    calls: list = field(default_factory=list, compare=False)

    def draft_size(self, size: int) -> None:
        return None

    def regions(self, image: Image.Image, size: int) -> list[Region]:
        self.calls.append(image.size)
        return [Region("", image.resize((size, size), Image.Resampling.BILINEAR))]


SQUASH = stage_named("squash-for-tests") if "squash-for-tests" in stage_names() else register_stage(Squash())


def _wide_photo(path):
    pixels = np.zeros((30, 90, 3), np.uint8)
    pixels[:, :30] = (250, 20, 20)  # a red left third, which a centre crop would cut away
    pixels[:, 30:] = (20, 20, 250)
    Image.fromarray(pixels).save(path)
    return pixels


def test_the_stage_is_recorded_in_the_model_and_used_for_files_arrays_and_bytes(tmp_path):
    pixels = _wide_photo(tmp_path / "wide.png")
    config = EncoderConfig.for_backbone("resnet18", image_size=32, head=(32, 16), preprocess=SQUASH.name)
    lookalike.create_model(config).save(tmp_path / "model")
    model = lookalike.load_model(tmp_path / "model", SETTINGS)
    assert model.config.preprocess == SQUASH.name
    squashed = np.asarray(Image.fromarray(pixels).resize((32, 32), Image.Resampling.BILINEAR))
    expected = model.embedder.embed_images([squashed])[0]
    vectors = model.embed([tmp_path / "wide.png", pixels, Encoded("wide.png", (tmp_path / "wide.png").read_bytes())])
    np.testing.assert_allclose(vectors, np.stack([expected] * 3), atol=1e-6)
    cropped = lookalike.create_model(EncoderConfig.for_backbone("resnet18", image_size=32, head=(32, 16)))
    assert model.id != cropped.id  # the same weights prepared otherwise are another model
    with lookalike.open(tmp_path / "g", model, settings=SETTINGS) as session:
        session.index(tmp_path)
        assert session.search(pixels, k=1)[0].score > 0.9999


def test_training_prepares_its_images_with_the_models_stage(image_folder, tmp_path):
    before = len(SQUASH.calls)
    run = lookalike.train(image_folder, tmp_path / "model", image_size=32, head=(32, 16), preprocess=SQUASH.name,
                          settings=TrainSettings(epochs=1, batch_size=4, workers=0, precision="fp32"))
    assert len(SQUASH.calls) - before == 12  # every image of the folder, once, into the training cache
    assert run.report.history and lookalike.load_model(tmp_path / "model").config.preprocess == SQUASH.name


def test_an_unknown_stage_is_refused_by_name():
    with pytest.raises(LookalikeError, match="unknown preprocessing stage 'fisheye'"):
        EncoderConfig(preprocess="fisheye")
    assert TINY_CONFIG.preprocess == "centre-crop"
