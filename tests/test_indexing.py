import os
import shutil

import numpy as np
import pytest
from PIL import Image
from imagegen import TINY_CONFIG, write_truncated_jpeg

import lookalike
from lookalike.data import find_images
from lookalike.embed import EmbedSettings, Embedder
from lookalike.errors import ModelMismatchError
from lookalike.gallery import Gallery
from lookalike.models import create_encoder, load_model, model_id

IN_PROCESS = EmbedSettings(workers=0)  # small folders: worker start-up would cost more than it saves


def index_folder(folder, gallery, *, model=None, settings=IN_PROCESS, index=None, **options):
    with lookalike.open(gallery, model, settings=settings) as session:
        return session.index(folder, index_kind=index, **options)


def remove_from_gallery(paths, gallery):
    with lookalike.open(gallery) as session:
        return session.remove(paths)


def _paths(gallery):
    with Gallery.open(gallery, read_only=True) as store:
        return sorted(image.path for image in store.images())


def test_first_run_indexes_everything_with_labels(image_folder, tiny_model, tmp_path):
    report = index_folder(image_folder, tmp_path / "g", model=tiny_model)
    assert (report.found, report.added, report.updated, report.unchanged) == (12, 12, 0, 0)
    assert report.skipped == []
    assert _paths(tmp_path / "g") == [str(p) for p in find_images(image_folder)]
    with Gallery.open(tmp_path / "g", read_only=True) as store:
        assert {image.label for image in store.images()} == {"class0", "class1", "class2"}
        assert store.info.model_id == model_id(load_model(tiny_model))


def test_the_stored_vectors_are_the_model_embeddings(image_folder, tiny_model, tmp_path):
    index_folder(image_folder, tmp_path / "g", model=tiny_model)
    paths = find_images(image_folder)
    expected = Embedder(load_model(tiny_model), IN_PROCESS).embed_paths(paths).vectors
    with Gallery.open(tmp_path / "g", read_only=True) as store:
        ids = [store.find(str(path)).id for path in paths]
        np.testing.assert_allclose(store.vectors(ids), expected, atol=1e-6)


def test_a_second_run_embeds_only_what_changed(image_folder, tiny_model, tmp_path):
    gallery = tmp_path / "g"
    index_folder(image_folder, gallery, model=tiny_model)

    again = index_folder(image_folder, gallery)
    assert (again.added, again.updated, again.unchanged) == (0, 0, 12)

    touched = image_folder / "class0" / "img0.jpg"  # same bytes, new mtime: the hash says unchanged
    os.utime(touched, ns=(touched.stat().st_atime_ns, touched.stat().st_mtime_ns + 10**9))
    changed = image_folder / "class1" / "img1.png"
    Image.new("RGB", (40, 40), (0, 200, 0)).save(changed)
    shutil.copy(changed, image_folder / "class2" / "new.png")

    third = index_folder(image_folder, gallery)
    assert (third.added, third.updated, third.unchanged) == (1, 1, 11)
    with Gallery.open(gallery, read_only=True) as store:
        assert len(store) == 13
        assert store.find(str(touched.resolve())).mtime_ns == touched.stat().st_mtime_ns
        new = image_folder / "class2" / "new.png"
        vectors = store.vectors([store.find(str(changed.resolve())).id, store.find(str(new.resolve())).id])
    np.testing.assert_allclose(vectors[0], vectors[1], atol=1e-6)  # same picture, same vector


def test_deleted_files_are_reported_and_pruned_only_on_request(image_folder, tiny_model, tmp_path):
    gallery = tmp_path / "g"
    index_folder(image_folder, gallery, model=tiny_model)
    (image_folder / "class0" / "img0.jpg").unlink()
    kept = index_folder(image_folder, gallery)
    assert (kept.missing, kept.removed) == (1, 0)
    assert len(_paths(gallery)) == 12
    pruned = index_folder(image_folder, gallery, prune=True)
    assert (pruned.missing, pruned.removed) == (1, 1)
    assert len(_paths(gallery)) == 11


def test_bad_files_are_skipped_with_reasons_and_the_rest_indexed(image_folder, tiny_model, tmp_path):
    write_truncated_jpeg(image_folder / "class0" / "truncated.jpg")
    (image_folder / "class1" / "x.jpg").write_text("this is not a picture")
    (image_folder / "class2" / "empty.png").write_bytes(b"")
    report = index_folder(image_folder, tmp_path / "g", model=tiny_model, settings=EmbedSettings(workers=2))
    assert report.found == 15
    assert report.added == 12
    skipped = {bad.path.name: bad.reason for bad in report.skipped}
    assert set(skipped) == {"truncated.jpg", "x.jpg", "empty.png"}
    assert all(reason for reason in skipped.values())
    assert len(_paths(tmp_path / "g")) == 12


def test_another_model_is_refused_and_the_gallery_is_left_as_it_was(image_folder, tiny_model, tmp_path):
    gallery = tmp_path / "g"
    index_folder(image_folder, gallery, model=tiny_model)
    before = {p.name: p.read_bytes() for p in gallery.iterdir() if p.is_file()}
    other = create_encoder(TINY_CONFIG, seed=1)
    with pytest.raises(ModelMismatchError):
        index_folder(image_folder, gallery, model=other)
    assert {p.name: p.read_bytes() for p in gallery.iterdir() if p.is_file()} == before


def test_the_gallery_keeps_a_copy_of_its_model(image_folder, tiny_model, tmp_path):
    index_folder(image_folder, tmp_path / "g", model=tiny_model)
    shutil.rmtree(tiny_model)  # the original is gone; the gallery still knows its model
    with Gallery.open(tmp_path / "g", read_only=True) as store:
        assert model_id(load_model(store.model_dir)) == store.info.model_id


def test_remove_images_and_folders(image_folder, tiny_model, tmp_path):
    gallery = tmp_path / "g"
    index_folder(image_folder, gallery, model=tiny_model)
    assert remove_from_gallery([image_folder / "class0" / "img1.png"], gallery) == 1
    assert remove_from_gallery([image_folder / "class2"], gallery) == 4
    assert remove_from_gallery([image_folder / "class2"], gallery) == 0
    assert all("class2" not in path and not path.endswith("class0/img1.png") for path in _paths(gallery))
    assert len(_paths(gallery)) == 7


def test_an_approximate_index_can_be_chosen_and_changed(image_folder, tiny_model, tmp_path):
    gallery = tmp_path / "g"
    index_folder(image_folder, gallery, model=tiny_model, index="hnsw")
    with Gallery.open(gallery, read_only=True) as store:
        assert store.info.index == "hnsw"
    index_folder(image_folder, gallery, index="flat")
    with Gallery.open(gallery, read_only=True) as store:
        assert (store.info.index, len(store)) == ("flat", 12)
