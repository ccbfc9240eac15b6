"""Small generated image folders, a tiny model config and the shared data location, for tests that run in seconds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from lookalike.models import EncoderConfig

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
TINY_CONFIG = EncoderConfig(backbone="resnet18", image_size=32, head=(32, 16))


def _pattern(kind: int, variant: int, size=(48, 40)) -> np.ndarray:
    rng = np.random.default_rng(100 * kind + variant)
    h, w = size[1], size[0]
    y, x = np.mgrid[0:h, 0:w]
    if kind == 0:
        base = np.stack([x * 255 / w, np.zeros_like(x), y * 255 / h], axis=-1)
    elif kind == 1:
        stripes = ((x // (3 + variant)) % 2) * 255
        base = np.stack([stripes, stripes, np.full_like(x, 60)], axis=-1)
    else:
        checker = (((x // 6) + (y // 6)) % 2) * 200
        base = np.stack([np.full_like(x, 30), checker, checker], axis=-1)
    noisy = base + rng.normal(0, 12, base.shape)
    return np.clip(noisy, 0, 255).astype(np.uint8)


def write_image_folder(root: Path, classes: int = 3, per_class: int = 4) -> list[Path]:
    """`classes` sub-folders of `per_class` images each, alternating PNG and JPEG. Returns the files, sorted."""
    files = []
    for kind in range(classes):
        folder = root / f"class{kind}"
        folder.mkdir(parents=True, exist_ok=True)
        for variant in range(per_class):
            path = folder / f"img{variant}.{'png' if variant % 2 else 'jpg'}"
            Image.fromarray(_pattern(kind, variant)).save(path)
            files.append(path.resolve())
    return sorted(files)


def write_truncated_jpeg(path: Path) -> None:
    Image.fromarray(_pattern(0, 0)).save(path, format="JPEG")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
