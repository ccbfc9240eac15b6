"""The README's Python example, run as written on real photos: the gallery finds a photo held in memory as itself,
and one image gives one vector whichever form it comes in."""

import contextlib
import io
import os
import re
from pathlib import Path

import numpy as np
import pytest
from imagegen import SHARED_DATA

README = Path(__file__).parents[1] / "README.md"
PHOTOS = SHARED_DATA / "flowers_recognition" / "daisy"
MARKER = "<!-- tests/test_readme.py runs this block on real photos -->"


def _example() -> str:
    after = README.read_text(encoding="utf-8").split(MARKER, 1)[1]
    return re.match(r"\s*```python\n(.*?)```", after, re.DOTALL).group(1)


def test_the_readme_marks_its_python_example():
    assert "lookalike.open" in _example()


@pytest.mark.skipif(not PHOTOS.is_dir(), reason=f"real photos not present at {PHOTOS}")
def test_the_readme_python_example_runs_on_real_photos(tmp_path, monkeypatch):
    (tmp_path / "photos").symlink_to(PHOTOS)
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        exec(compile(_example(), str(README), "exec"), scope)
    count = len([name for name in os.listdir(PHOTOS) if name.endswith(".jpg")])
    assert printed.getvalue().startswith(f"{count} 0 []")
    best, path, vectors = scope["best"], scope["path"], scope["vectors"]
    assert best.path == best.image.path == str(path.resolve()) and best.score >= 0.99
    assert vectors.shape == (4, 1280) and vectors.dtype == np.float32  # the default start: EfficientNet-Lite0
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    np.testing.assert_allclose(vectors[3], vectors[1], atol=1e-6)  # the file's bytes: the file's vector
    assert (vectors @ vectors[1]).min() > 0.9998  # its pixels, decoded in full (see the README)
