"""Pixel prints: steady under the edits a copy goes through, different for another picture, kept and read once."""

from __future__ import annotations

import hashlib

import numpy as np
from PIL import Image

from lookalike.collection.prints import SIDE, PrintCache, pixel_print
from lookalike.collection.variants import make_variant
from lookalike.gallery.embedded import Gallery
from lookalike.gallery.records import ImageRecord


def scene(seed: int, size: tuple[int, int] = (240, 180)) -> Image.Image:
    """A photo-like picture: smooth blobs of light and dark (noise blurred), different for each seed."""
    rng = np.random.default_rng(seed)
    coarse = rng.random((6, 8, 3)) * 255
    return Image.fromarray(coarse.astype(np.uint8)).resize(size, Image.Resampling.BICUBIC)


def test_a_print_survives_copying_and_tells_another_picture_apart():
    photo = scene(0)
    original = pixel_print(photo)
    assert original.shape == (SIDE * SIDE,) and abs(float(np.linalg.norm(original)) - 1) < 1e-5
    rng = np.random.default_rng(0)
    for kind in ("jpeg", "resize", "exposure", "soften"):
        assert float(pixel_print(make_variant(photo, kind, rng)) @ original) > 0.9, kind
    assert float(pixel_print(scene(1)) @ original) < 0.6
    assert not pixel_print(Image.new("RGB", (50, 50), "grey")).any()  # flat: matches nothing


def test_prints_are_read_once_kept_by_id_and_missing_files_are_tried_again(tmp_path):
    store = Gallery.create(tmp_path / "gallery", model_id="m", dim=2)
    records = []
    for name, seed in (("a", 0), ("b", 1)):
        path = tmp_path / f"{name}.png"
        scene(seed).save(path)
        data = path.read_bytes()
        records.append(ImageRecord(path=str(path), size=len(data), mtime_ns=0, sha256=hashlib.sha256(data).hexdigest()))
    ids = store.add(records, np.eye(2, dtype=np.float32), model_id="m")
    store.commit()
    (tmp_path / "b.png").unlink()

    cache = PrintCache(store)
    prints = cache.prints(ids)
    assert np.allclose(prints[0], pixel_print(scene(0)), atol=1e-2)  # kept as float16
    assert np.isnan(prints[1]).all()  # its file is gone: no print, so never alike by pixels
    cache.save(np.array(ids))

    (tmp_path / "a.png").unlink()  # read back from the saved prints, not from the file
    scene(1).save(tmp_path / "b.png")  # the same picture again: its hash matches, so it is read this time
    again = PrintCache(store).prints(ids)
    assert np.allclose(again[0], prints[0]) and np.allclose(again[1], pixel_print(scene(1)), atol=1e-2)
    store.close()
