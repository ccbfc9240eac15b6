"""Fixtures shared by the top-level tests: a generated image folder and a tiny saved model."""

from __future__ import annotations

from pathlib import Path

import pytest

from imagegen import TINY_CONFIG, write_image_folder
from lookalike.models import create_encoder, save_model


@pytest.fixture
def image_folder(tmp_path) -> Path:
    root = tmp_path / "images"
    write_image_folder(root)
    return root


@pytest.fixture
def tiny_model(tmp_path) -> Path:
    folder = tmp_path / "model"
    save_model(create_encoder(TINY_CONFIG, seed=0), folder)
    return folder
