"""The 2-D layout keeps look-alikes together, and the map draws every group it is given."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from lookalike.collection import groups_of, lay_out
from lookalike.errors import LookalikeError
from lookalike.gallery.embedded import Gallery
from lookalike.gallery.records import ImageRecord
from lookalike.report.map import draw_map

DIM = 16


@pytest.fixture
def gallery(tmp_path):
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((3, DIM)) * 3
    vectors = np.concatenate([centre + rng.standard_normal((12, DIM)) * 0.2 for centre in centres]).astype(np.float32)
    store = Gallery.create(tmp_path / "gallery", model_id="constructed", dim=DIM)
    store.add([ImageRecord(path=str(tmp_path / f"missing-{i}.png"), size=1, mtime_ns=0, sha256="0" * 64,
                           label=f"kind{i // 12}") for i in range(36)],
              vectors / np.linalg.norm(vectors, axis=1, keepdims=True), model_id="constructed")
    store.commit()
    yield store
    store.close()


@pytest.mark.parametrize("method", ["tsne", "pca"])
def test_each_bunch_lands_apart_from_the_others(gallery, method):
    layout = lay_out(gallery, method=method)
    assert layout.method == method and layout.points.shape == (36, 2) and layout.gallery_images == 36
    centres = np.stack([layout.points[k * 12:(k + 1) * 12].mean(axis=0) for k in range(3)])
    spread = max(float(np.linalg.norm(layout.points[k * 12:(k + 1) * 12] - centres[k], axis=1).max())
                 for k in range(3))
    gaps = [float(np.linalg.norm(centres[a] - centres[b])) for a, b in ((0, 1), (0, 2), (1, 2))]
    assert min(gaps) > spread  # every bunch is a separate island


def test_a_sample_lays_out_only_that_many_and_says_of_how_many(gallery):
    layout = lay_out(gallery, method="pca", sample=10)
    assert len(layout.images) == 10 and layout.gallery_images == 36


def test_the_map_is_drawn_even_when_no_file_can_be_read_back(gallery, tmp_path):
    layout = lay_out(gallery, method="pca")
    by, groups = groups_of(gallery, layout.images)
    assert by == "label" and set(groups) == {"kind0", "kind1", "kind2"}  # never clustered: folder labels
    out = draw_map(layout, groups, tmp_path / "map.png")
    assert Image.open(out).size == (1100, 880)


def test_unknown_layouts_and_groupings_are_refused(gallery):
    with pytest.raises(LookalikeError, match="unknown layout"):
        lay_out(gallery, method="mds")
    with pytest.raises(LookalikeError, match="unknown grouping"):
        groups_of(gallery, gallery.images(), "colour")
