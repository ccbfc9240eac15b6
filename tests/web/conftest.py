"""One small indexed gallery for the web tests: 12 generated images in three class folders, a 32 px model."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from imagegen import TINY_CONFIG, write_image_folder

import lookalike
from lookalike.embed import EmbedSettings
from lookalike.models import create_encoder, save_model

SETTINGS = EmbedSettings(workers=0, precision="fp32")


@pytest.fixture(scope="package")
def indexed(tmp_path_factory) -> tuple[Path, Path]:
    """(image folder, gallery folder); shared, so tests must not change it (see `writable_gallery`)."""
    root = tmp_path_factory.mktemp("web")
    write_image_folder(root / "images")
    save_model(create_encoder(TINY_CONFIG, seed=0), root / "model")
    with lookalike.open(root / "gallery", root / "model", settings=SETTINGS) as session:
        session.index(root / "images")
    return root / "images", root / "gallery"


@pytest.fixture
def writable_gallery(indexed, tmp_path) -> Path:
    """A copy of the shared gallery that a test may change."""
    return Path(shutil.copytree(indexed[1], tmp_path / "gallery"))
