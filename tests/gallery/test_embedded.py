"""The embedded gallery's everyday behaviour: storing, finding, searching and changing images (flat index)."""

from __future__ import annotations

import json
import threading
from dataclasses import replace

import numpy as np
import pytest

from lookalike.errors import ModelMismatchError
from lookalike.gallery.embedded import Gallery
from lookalike.gallery.protocol import GalleryStore
from lookalike.gallery.records import ImageRecord


def brute_force_top_k(stored: np.ndarray, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions and scores of the k largest inner products per query, computed the plain way."""
    scores = queries @ stored.T
    order = np.argsort(-scores, axis=1)[:, :k]
    return order, np.take_along_axis(scores, order, axis=1)


def test_created_gallery_describes_itself(new_gallery, folder, model_id):
    gallery = new_gallery()

    info = gallery.info
    assert (info.model_id, info.dim, info.metric, info.index, info.threshold, info.count) == (
        model_id, 8, "cosine", "flat", None, 0,
    )
    assert len(gallery) == 0
    assert Gallery.exists(folder)
    assert gallery.model_dir == folder / "model"
    assert not gallery.model_dir.exists()  # the caller puts the model there
    manifest = json.loads((folder / "gallery.json").read_text())
    assert manifest["model_id"] == model_id and manifest["dim"] == 8 and manifest["index"] == "flat"
    assert isinstance(gallery, GalleryStore)


def test_round_trip_through_disk_keeps_records_vectors_and_search_results(
    new_gallery, folder, model_id, make_records, unit_vectors
):
    gallery = new_gallery()
    records = make_records(20)
    vectors = unit_vectors(20)
    queries = unit_vectors(3)
    ids = gallery.add(records, vectors, model_id=model_id)
    gallery.commit()
    stored_before = gallery.images()
    hits_before = gallery.search(queries, 5)
    gallery.close()

    with Gallery.open(folder) as reopened:
        assert reopened.images() == stored_before
        assert [image.path for image in reopened.images()] == [record.path for record in records]
        assert [image.id for image in reopened.images()] == ids
        np.testing.assert_array_equal(reopened.vectors(ids), vectors)
        assert reopened.search(queries, 5) == hits_before


def test_stored_image_carries_every_field_of_its_record(new_gallery, model_id, unit_vectors):
    gallery = new_gallery()
    record = ImageRecord("/photos/ada.jpg", size=123, mtime_ns=456, sha256="f" * 64, label="cats", identity="ada")

    [image_id] = gallery.add([record], unit_vectors(1), model_id=model_id)

    image = gallery.find("/photos/ada.jpg")
    assert image is not None and image.id == image_id
    assert (image.path, image.size, image.mtime_ns, image.sha256, image.label, image.identity) == (
        "/photos/ada.jpg", 123, 456, "f" * 64, "cats", "ada",
    )
    assert gallery.find("/photos/nobody.jpg") is None
    assert gallery.get([image_id]) == [image]


@pytest.mark.parametrize("k", [1, 3, 10, 40, 41, 100])
def test_flat_search_equals_brute_force(new_gallery, model_id, make_records, unit_vectors, k):
    gallery = new_gallery()
    stored = unit_vectors(40)
    ids = np.array(gallery.add(make_records(40), stored, model_id=model_id))
    queries = unit_vectors(7)

    hits = gallery.search(queries, k)

    positions, scores = brute_force_top_k(stored, queries, min(k, 40))
    assert [[hit.image.id for hit in row] for row in hits] == ids[positions].tolist()
    np.testing.assert_allclose([[hit.score for hit in row] for row in hits], scores, atol=1e-5)


def test_search_rejects_bad_k_and_bad_queries(new_gallery, model_id, make_records, unit_vectors):
    gallery = new_gallery()
    gallery.add(make_records(3), unit_vectors(3), model_id=model_id)

    with pytest.raises(ValueError, match="k must be"):
        gallery.search(unit_vectors(1), 0)
    with pytest.raises(ValueError, match="shape"):
        gallery.search(unit_vectors(1)[0], 1)
    with pytest.raises(ValueError, match="normalised"):
        gallery.search(unit_vectors(1) * 2, 1)


def test_empty_gallery_search_gives_one_empty_list_per_query(new_gallery, unit_vectors):
    assert new_gallery().search(unit_vectors(2), 5) == [[], []]


def test_no_queries_give_no_results(new_gallery, model_id, make_records, unit_vectors):
    gallery = new_gallery()
    gallery.add(make_records(3), unit_vectors(3), model_id=model_id)

    assert gallery.search(unit_vectors(0), 2) == []


def test_exclude_leaves_ids_out_and_still_returns_k_hits(new_gallery, model_id, make_records, unit_vectors):
    gallery = new_gallery()
    stored = unit_vectors(30)
    ids = gallery.add(make_records(30), stored, model_id=model_id)
    queries = stored[:3]  # each query is a stored image, its own best match
    plain = gallery.search(queries, 7)
    itself_and_runner_up = {ids[1], plain[1][1].image.id}

    hits = gallery.search(queries, 5, exclude=[{ids[0]}, itself_and_runner_up, None])

    assert [len(row) for row in hits] == [5, 5, 5]
    assert hits[0] == plain[0][1:6]
    assert hits[1] == plain[1][2:7]
    assert hits[2] == plain[2][:5]


def test_exclude_with_k_beyond_the_gallery_returns_everything_else(new_gallery, model_id, make_records, unit_vectors):
    gallery = new_gallery()
    ids = gallery.add(make_records(4), unit_vectors(4), model_id=model_id)

    [hits] = gallery.search(unit_vectors(1), 10, exclude=[{ids[0], ids[3]}])

    assert sorted(hit.image.id for hit in hits) == [ids[1], ids[2]]


def test_exclude_needs_one_entry_per_query(new_gallery, model_id, make_records, unit_vectors):
    gallery = new_gallery()
    gallery.add(make_records(3), unit_vectors(3), model_id=model_id)

    with pytest.raises(ValueError, match="exclude"):
        gallery.search(unit_vectors(2), 1, exclude=[None])


def test_adding_a_stored_path_replaces_its_entry(new_gallery, folder, model_id, make_records, unit_vectors):
    gallery = new_gallery()
    old_ids = gallery.add(make_records(5), unit_vectors(5), model_id=model_id)
    gallery.commit()
    changed = make_records(1, start=2, sha256="a" * 64)
    new_vector = unit_vectors(1)

    [new_id] = gallery.add(changed, new_vector, model_id=model_id)
    gallery.commit()

    assert new_id not in old_ids
    assert len(gallery) == 5
    assert gallery.find("/images/0002.jpg").sha256 == "a" * 64
    with pytest.raises(KeyError):
        gallery.get([old_ids[2]])
    [[best]] = gallery.search(new_vector, 1)
    assert best.image.id == new_id and best.score == pytest.approx(1.0, abs=1e-5)
    gallery.close()
    with Gallery.open(folder) as reopened:
        assert [image.id for image in reopened.images()] == [old_ids[0], old_ids[1], old_ids[3], old_ids[4], new_id]
        np.testing.assert_array_equal(reopened.vectors([new_id]), new_vector)


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


def test_remove_forgets_images_and_persists(new_gallery, folder, model_id, make_records, unit_vectors):
    gallery = new_gallery()
    stored = unit_vectors(6)
    ids = gallery.add(make_records(6), stored, model_id=model_id)

    removed = gallery.remove(["/images/0001.jpg", "/images/0004.jpg", "/images/unknown.jpg"])
    gallery.commit()

    assert removed == 2
    assert len(gallery) == 4
    assert gallery.find("/images/0001.jpg") is None
    all_hits = gallery.search(stored, 6)
    assert all(len(row) == 4 for row in all_hits)
    assert {hit.image.id for row in all_hits for hit in row} == {ids[0], ids[2], ids[3], ids[5]}
    assert gallery.remove(["/images/unknown.jpg"]) == 0
    with pytest.raises(TypeError):
        gallery.remove("/images/0000.jpg")
    gallery.close()
    with Gallery.open(folder) as reopened:
        assert [image.id for image in reopened.images()] == [ids[0], ids[2], ids[3], ids[5]]
        np.testing.assert_array_equal(reopened.vectors([ids[5], ids[0]]), stored[[5, 0]])


def test_removing_everything_leaves_an_empty_searchable_gallery(new_gallery, model_id, make_records, unit_vectors):
    gallery = new_gallery()
    gallery.add(make_records(3), unit_vectors(3), model_id=model_id)

    assert gallery.remove(record.path for record in make_records(3)) == 3

    assert len(gallery) == 0 and gallery.images() == []
    assert gallery.search(unit_vectors(1), 3) == [[]]


def test_ids_are_never_reused(new_gallery, model_id, make_records, unit_vectors):
    gallery = new_gallery()
    first = gallery.add(make_records(3), unit_vectors(3), model_id=model_id)
    gallery.remove(["/images/0002.jpg"])  # the highest id

    second = gallery.add(make_records(1, start=7), unit_vectors(1), model_id=model_id)

    assert second[0] > max(first)


def test_get_and_vectors_refuse_unknown_ids(new_gallery, model_id, make_records, unit_vectors):
    gallery = new_gallery()
    ids = gallery.add(make_records(2), unit_vectors(2), model_id=model_id)

    assert [image.id for image in gallery.get([ids[1], ids[0]])] == [ids[1], ids[0]]
    assert gallery.vectors([]).shape == (0, 8)
    with pytest.raises(KeyError, match="12345"):
        gallery.get([ids[0], 12345])
    with pytest.raises(KeyError, match="12345"):
        gallery.vectors([12345])


def test_another_model_is_refused_and_nothing_changes_on_disk(
    new_gallery, folder, model_id, make_records, unit_vectors, snapshot
):
    gallery = new_gallery()
    gallery.add(make_records(2), unit_vectors(2), model_id=model_id)
    gallery.commit()
    gallery.close()
    before = snapshot(folder)

    with Gallery.open(folder) as gallery:
        with pytest.raises(ModelMismatchError) as refusal:
            gallery.add(make_records(2, start=5), unit_vectors(2), model_id="other-model")
        gallery.commit()
        gallery.check_model(model_id)  # the right model passes

    message = str(refusal.value)
    assert model_id in message and "other-model" in message
    assert "re-index into a new gallery or pass the model that built it" in message
    assert snapshot(folder) == before


@pytest.mark.parametrize(
    "vectors, complaint",
    [
        (np.full((1, 16), 0.25, dtype=np.float32), "shape"),
        (np.ones((1, 8), dtype=np.float32), "normalised"),
        (np.full((1, 8), np.nan, dtype=np.float32), "NaN"),
        (np.eye(8, dtype=np.int64)[:1], "floating"),
        (np.eye(8, dtype=np.float32)[0], "shape"),
    ],
    ids=["wrong-dim", "not-unit", "nan", "integer", "one-dimensional"],
)
def test_bad_vectors_are_rejected_before_anything_changes(new_gallery, model_id, make_records, vectors, complaint):
    gallery = new_gallery()

    with pytest.raises(ValueError, match=complaint):
        gallery.add(make_records(1), vectors, model_id=model_id)

    assert len(gallery) == 0 and gallery.images() == []


def test_float64_unit_vectors_are_accepted(new_gallery, model_id, make_records):
    gallery = new_gallery()

    [image_id] = gallery.add(make_records(1), np.eye(8)[:1], model_id=model_id)

    np.testing.assert_array_equal(gallery.vectors([image_id]), np.eye(8, dtype=np.float32)[:1])


@pytest.mark.parametrize(
    "records, complaint",
    [
        ([ImageRecord("/a.jpg", 1, 1, "x"), ImageRecord("/a.jpg", 1, 1, "x")], "more than once"),
        ([ImageRecord("/a.jpg", 1, 1, "x"), ImageRecord("relative.jpg", 1, 1, "x")], "absolute"),
        ([ImageRecord("/a.jpg", 1, 1, "x")], "records but"),
    ],
    ids=["duplicate", "relative", "count"],
)
def test_bad_records_are_rejected(new_gallery, model_id, unit_vectors, records, complaint):
    gallery = new_gallery()

    with pytest.raises(ValueError, match=complaint):
        gallery.add(records, unit_vectors(2), model_id=model_id)

    assert len(gallery) == 0


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


def test_renaming_an_identity_relabels_its_images_and_keeps_their_vectors(new_gallery, folder, model_id,
                                                                          make_records, unit_vectors):
    gallery = new_gallery()
    records = [replace(record, identity=name) for record, name in zip(make_records(3), ["ann", "bob", "ann"])]
    vectors = unit_vectors(3)
    ids = gallery.add(records, vectors, model_id=model_id)
    assert gallery.rename_identity("ann", "anna") == 2 and gallery.rename_identity("zed", "x") == 0
    gallery.commit()
    gallery.close()
    with Gallery.open(folder) as reopened:
        assert [image.identity for image in reopened.get(ids)] == ["anna", "bob", "anna"]
        np.testing.assert_allclose(reopened.vectors(ids), vectors, rtol=1e-6)


def test_context_manager_closes_without_committing(new_gallery, folder, model_id, make_records, unit_vectors):
    new_gallery().close()

    with Gallery.open(folder) as gallery:
        gallery.add(make_records(2), unit_vectors(2), model_id=model_id)
    with pytest.raises(ValueError, match="closed"):
        gallery.images()
    gallery.close()  # a second close is harmless

    with Gallery.open(folder) as reopened:
        assert len(reopened) == 0


def test_threads_can_share_one_gallery(new_gallery, model_id, make_records, unit_vectors):
    gallery = new_gallery()
    gallery.add(make_records(100), unit_vectors(100), model_id=model_id)
    queries = unit_vectors(30)
    additions = unit_vectors(30)
    failures: list[BaseException] = []

    def search() -> None:
        try:
            for query in queries:
                [row] = gallery.search(query[None, :], 5)
                assert len(row) == 5
                assert all(a.score >= b.score for a, b in zip(row, row[1:]))
        except BaseException as failure:
            failures.append(failure)

    def add() -> None:
        for number, vector in enumerate(additions):
            gallery.add(make_records(1, start=500 + number), vector[None, :], model_id=model_id)

    workers = [threading.Thread(target=search) for _ in range(4)] + [threading.Thread(target=add)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    assert failures == []
    assert len(gallery) == 130 and len(gallery.images()) == 130
