from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PIL import Image


@pytest.fixture
def save_image(tmp_path: Path) -> Callable[..., Path]:
    """Save a Pillow image under tmp_path, in the format its suffix names, and return the file's path."""

    def save(relative: str, image: Image.Image, **options: Any) -> Path:
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        image.save(path, **options)
        return path

    return save
