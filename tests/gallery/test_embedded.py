"""The folder store's own files: gallery.json, index generations, nothing written by a refused change (the
behaviour every store shares is in test_store_contract.py)."""

from __future__ import annotations

import json

import pytest

from lookalike.errors import ModelMismatchError
from lookalike.gallery.embedded import Gallery


def test_a_created_gallery_is_its_manifest_and_a_model_folder_inside(new_gallery, folder, model_id):
    gallery = new_gallery()

    assert Gallery.exists(folder) and gallery.model_dir == folder / "model"
    manifest = json.loads((folder / "gallery.json").read_text())
    assert manifest["model_id"] == model_id and manifest["dim"] == 8 and manifest["index"] == "flat"


def test_update_mtime_persists_without_rewriting_the_index(new_gallery, folder, model_id, make_records, unit_vectors):
    gallery = new_gallery()
    gallery.add(make_records(3), unit_vectors(3), model_id=model_id)
    gallery.commit()
    index_files = sorted(path.name for path in folder.glob("vectors-*.faiss"))

    gallery.update_mtime("/images/0001.jpg", 999_000)
    gallery.commit()

    assert sorted(path.name for path in folder.glob("vectors-*.faiss")) == index_files
    with pytest.raises(KeyError):
        gallery.update_mtime("/images/missing.jpg", 1)
    gallery.close()
    with Gallery.open(folder) as reopened:
        assert reopened.find("/images/0001.jpg").mtime_ns == 999_000
        assert reopened.find("/images/0000.jpg").mtime_ns == 0


def test_another_model_is_refused_and_nothing_changes_on_disk(
    new_gallery, folder, model_id, make_records, unit_vectors, snapshot
):
    gallery = new_gallery()
    gallery.add(make_records(2), unit_vectors(2), model_id=model_id)
    gallery.commit()
    gallery.close()
    before = snapshot(folder)

    with Gallery.open(folder) as gallery:  # the refusal itself is in the store contract
        with pytest.raises(ModelMismatchError):
            gallery.add(make_records(2, start=5), unit_vectors(2), model_id="other-model")
        gallery.commit()

    assert snapshot(folder) == before


def test_threshold_persists(new_gallery, folder):
    gallery = new_gallery()

    gallery.set_threshold(0.42)
    gallery.close()
    with Gallery.open(folder) as reopened:
        assert reopened.info.threshold == pytest.approx(0.42)
        assert json.loads((folder / "gallery.json").read_text())["threshold"] == pytest.approx(0.42)
        reopened.set_threshold(None)
    with Gallery.open(folder) as reopened:
        assert reopened.info.threshold is None
        for outside in (-0.1, 2.5):  # a distance lies in [0, 2]
            with pytest.raises(ValueError):
                reopened.set_threshold(outside)
