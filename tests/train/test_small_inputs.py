"""Training on images much smaller than the backbone's input: twice their size, and validation that stays cheap."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from lookalike.training import Callbacks, TrainSettings, train_folder, validation
from lookalike.training.folder import small_input_size
from lookalike.views import recipe_named


def write_images(root, side: int, count: int = 5) -> None:
    root.mkdir()
    rng = np.random.default_rng(0)
    for i in range(count):
        Image.fromarray(rng.integers(0, 255, (side, side + 8, 3), dtype=np.uint8)).save(root / f"{i}.png")


def test_small_images_train_at_twice_their_size_and_large_ones_at_the_backbones(tmp_path):
    write_images(tmp_path / "tiny", 32)
    write_images(tmp_path / "large", 200)
    assert small_input_size(tmp_path / "tiny", 128) == 64  # the shorter side counts: 32, not 40
    assert small_input_size(tmp_path / "large", 128) is None
    assert small_input_size(tmp_path / "tiny", 64) is None  # no smaller than the backbone's own
    assert small_input_size(tmp_path / "nowhere", 128) is None  # training itself says what is wrong


def test_a_run_on_small_images_says_the_size_it_chose(tmp_path):
    write_images(tmp_path / "tiny", 20, count=6)
    said: list[str] = []
    run = train_folder(tmp_path / "tiny", tmp_path / "model", settings=TrainSettings(epochs=1, batch_size=2, workers=0),
                       callbacks=Callbacks(say=said.append))
    assert run.report.history and "training at 48 px, twice their size" in said[0]


def test_validation_reads_at_most_its_share_of_the_held_out_images(monkeypatch):
    monkeypatch.setattr(validation, "MAX_IMAGES", 3)
    views = recipe_named("simclr")
    held_out = torch.zeros((5, 3, 16, 16), dtype=torch.uint8)
    fixed = validation.FixedValidation(held_out, lambda x, g: (views(x, 16, g), views(x, 16, g)), 0, 4)
    assert len(fixed) == 3
