"""A new objective, miner or view recipe is one module and one registration: the CLI, train_folder and resuming find
it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import pytest
import torch
from imagegen import TINY_CONFIG, write_image_folder

from lookalike import views
from lookalike.errors import LookalikeError
from lookalike.models import create_encoder
from lookalike.objectives import miners, registry
from lookalike.objectives.base import Objective, ObjectiveOutput, embed_views
from lookalike.objectives.choice import ObjectiveChoice
from lookalike.objectives.registry import ObjectiveSpec, objective_help, register_objective
from lookalike.training import resume_training


class CosinePull(Objective):
    """A toy: pull the two views of each image together, with nothing pushing images apart."""

    name = "cosine-pull"

    def __init__(self, weight: float) -> None:
        super().__init__()
        self.weight = weight

    def forward(self, encoder, first, second, generator=None) -> ObjectiveOutput:
        a, b = embed_views(encoder, first, second)
        cosine = (a * b).sum(dim=1)
        return ObjectiveOutput(self.weight * (1 - cosine).mean(), {"cosine": float(cosine.detach().mean())})


class FirstOtherMiner:
    """A toy miner: each anchor's positive is its own second view, its negative the next image's."""

    def __call__(self, embeddings: torch.Tensor, ids: torch.Tensor, generator=None):
        half = len(ids) // 2
        anchors = torch.arange(half)
        return anchors, anchors + half, (anchors + 1) % half + half


@pytest.fixture
def registries():
    """Registrations are process-wide: what a test registers is taken out again after it."""
    tables = (registry._OBJECTIVES, miners.MINERS, views.RECIPES, views.PRESETS)
    before = [set(table) for table in tables]
    yield
    for table, names in zip(tables, before):
        for name in set(table) - names:
            del table[name]


def test_a_registered_objective_is_chosen_trained_and_resumed_by_name(registries, lookalike_main, tmp_path):
    register_objective(ObjectiveSpec(name="cosine-pull", summary="pull two views together", settings={"weight": 1.0},
                                     build=lambda encoder, settings: CosinePull(float(settings["weight"]))))
    assert "cosine-pull: pull two views together" in objective_help()
    choice = ObjectiveChoice("cosine-pull", weight=0.5)
    assert choice.describe() == {"name": "cosine-pull", "weight": 0.5} and choice.default_views == "seed"
    with pytest.raises(LookalikeError, match="has no setting margin"):
        ObjectiveChoice("cosine-pull", margin=0.2)

    write_image_folder(tmp_path / "images")
    out = tmp_path / "m"
    code, _, err = lookalike_main("train", tmp_path / "images", "--out", out, "--objective", "cosine-pull",
                                  "--epochs", 1, "--image-size", 32, "--head", "32,16", "--batch-size", 4,
                                  "--workers", 0, "--precision", "fp32")
    assert code == 0 and "cosine" in err, err
    run = resume_training(out, epochs=2)
    assert [row.epoch for row in run.report.history] == [1, 2] and "cosine" in run.report.history[-1].statistics


def test_a_registered_miner_serves_the_triplet_objective(registries):
    miners.register_miner("first-other", FirstOtherMiner)
    with pytest.raises(ValueError, match="registered already"):
        miners.register_miner("first-other", FirstOtherMiner)
    encoder = create_encoder(TINY_CONFIG)
    objective = ObjectiveChoice("triplet", mining="first-other").build(encoder)
    images = torch.rand(4, 3, 32, 32)
    output = objective(encoder, images, images.flip(-1))
    assert output.loss.ndim == 0 and torch.isfinite(output.loss)


@dataclass(frozen=True)
class FlipView:
    """A toy recipe: the image, mirrored when `p` says so."""

    name: ClassVar[str] = "flip"
    p: float = 1.0

    def __call__(self, images, size, generator=None):
        plain = views.PlainView()(images, size, generator)
        return plain.flip(-1) if torch.rand((), generator=generator) < self.p else plain

    def to_dict(self) -> dict:
        return {"name": self.name, "p": self.p}

    @property
    def detail_scale(self) -> float:
        return 1.0


def test_a_registered_view_recipe_and_preset_train_and_resume(registries, tmp_path):
    from lookalike.training import TrainSettings, train_folder

    views.register_recipe(FlipView)
    views.register_preset("always-flip", lambda: FlipView(p=1.0))
    with pytest.raises(ValueError, match="registered already"):
        views.register_preset("flip", FlipView)
    assert views.recipe_named("always-flip") == FlipView(p=1.0)
    assert views.recipe_from_dict({"name": "flip", "p": 0.5}) == FlipView(p=0.5)
    with pytest.raises(LookalikeError, match="unknown settings for the 'flip' view recipe: q"):
        views.recipe_from_dict({"name": "flip", "q": 1})

    write_image_folder(tmp_path / "images")
    out = tmp_path / "m"
    train_folder(tmp_path / "images", out, views="always-flip", image_size=32, head=(32, 16),
                 settings=TrainSettings(epochs=1, batch_size=4, workers=0, precision="fp32"))
    run = resume_training(out, epochs=2)  # the run recorded its views as the recipe they are made of
    assert [row.epoch for row in run.report.history] == [1, 2]
