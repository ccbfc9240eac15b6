"""The store contract: what every kind of gallery store does, run once per kind (a folder, Milvus Lite).

A new kind of store joins by adding itself to ``STORE_KINDS`` in conftest.py; the folder store's own mechanics (its
files, crash safety) are tested beside it in test_embedded.py, test_atomicity.py and test_errors.py."""

from __future__ import annotations

import threading
from dataclasses import replace

import numpy as np
import pytest

from lookalike.errors import LookalikeError, ModelMismatchError
from lookalike.gallery import INDEX_KINDS, store_kind_for
from lookalike.gallery.protocol import GalleryStore
from lookalike.gallery.records import ImageRecord


def brute_force_top_k(stored: np.ndarray, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions and scores of the k largest inner products per query, computed the plain way."""
    scores = queries @ stored.T
    order = np.argsort(-scores, axis=1)[:, :k]
    return order, np.take_along_axis(scores, order, axis=1)


def test_created_gallery_describes_itself(new_store, location, model_id):
    gallery = new_store()

    info = gallery.info
    assert (info.model_id, info.dim, info.metric, info.index, info.threshold, info.count) == (
        model_id, 8, "cosine", "flat", None, 0,
    )
    assert len(gallery) == 0
    assert store_kind_for(location).exists(location)
    assert gallery.location == location
    assert gallery.model_dir.parent == gallery.folder and gallery.folder.is_dir()
    assert not gallery.model_dir.exists()  # the caller puts the model there
    assert isinstance(gallery, GalleryStore)


def test_round_trip_through_disk_keeps_records_vectors_and_search_results(
    new_store, open_store, model_id, make_records, unit_vectors
):
    gallery = new_store()
    records = make_records(20)
    vectors = unit_vectors(20)
    queries = unit_vectors(3)
    ids = gallery.add(records, vectors, model_id=model_id)
    gallery.commit()
    stored_before = gallery.images()
    hits_before = gallery.search(queries, 5)
    gallery.close()

    with open_store() as reopened:
        assert reopened.images() == stored_before
        assert [image.path for image in reopened.images()] == [record.path for record in records]
        assert [image.id for image in reopened.images()] == ids
        np.testing.assert_array_equal(reopened.vectors(ids), vectors)
        assert reopened.search(queries, 5) == hits_before


def test_stored_image_carries_every_field_of_its_record(new_store, model_id, unit_vectors):
    gallery = new_store()
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
def test_flat_search_equals_brute_force(new_store, model_id, make_records, unit_vectors, k):
    gallery = new_store()
    stored = unit_vectors(40)
    ids = np.array(gallery.add(make_records(40), stored, model_id=model_id))
    queries = unit_vectors(7)

    hits = gallery.search(queries, k)

    positions, scores = brute_force_top_k(stored, queries, min(k, 40))
    assert [[hit.image.id for hit in row] for row in hits] == ids[positions].tolist()
    np.testing.assert_allclose([[hit.score for hit in row] for row in hits], scores, atol=1e-5)


def test_search_rejects_bad_k_and_bad_queries(new_store, model_id, make_records, unit_vectors):
    gallery = new_store()
    gallery.add(make_records(3), unit_vectors(3), model_id=model_id)

    with pytest.raises(ValueError, match="k must be"):
        gallery.search(unit_vectors(1), 0)
    with pytest.raises(ValueError, match="shape"):
        gallery.search(unit_vectors(1)[0], 1)
    with pytest.raises(ValueError, match="normalised"):
        gallery.search(unit_vectors(1) * 2, 1)


def test_empty_gallery_search_gives_one_empty_list_per_query(new_store, unit_vectors):
    assert new_store().search(unit_vectors(2), 5) == [[], []]


def test_no_queries_give_no_results(new_store, model_id, make_records, unit_vectors):
    gallery = new_store()
    gallery.add(make_records(3), unit_vectors(3), model_id=model_id)

    assert gallery.search(unit_vectors(0), 2) == []


def test_exclude_leaves_ids_out_and_still_returns_k_hits(new_store, model_id, make_records, unit_vectors):
    gallery = new_store()
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


def test_exclude_with_k_beyond_the_gallery_returns_everything_else(new_store, model_id, make_records, unit_vectors):
    gallery = new_store()
    ids = gallery.add(make_records(4), unit_vectors(4), model_id=model_id)

    [hits] = gallery.search(unit_vectors(1), 10, exclude=[{ids[0], ids[3]}])

    assert sorted(hit.image.id for hit in hits) == [ids[1], ids[2]]


def test_exclude_needs_one_entry_per_query(new_store, model_id, make_records, unit_vectors):
    gallery = new_store()
    gallery.add(make_records(3), unit_vectors(3), model_id=model_id)

    with pytest.raises(ValueError, match="exclude"):
        gallery.search(unit_vectors(2), 1, exclude=[None])


def test_adding_a_stored_path_replaces_its_entry(new_store, open_store, model_id, make_records, unit_vectors):
    gallery = new_store()
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
    with open_store() as reopened:
        assert [image.id for image in reopened.images()] == [old_ids[0], old_ids[1], old_ids[3], old_ids[4], new_id]
        np.testing.assert_array_equal(reopened.vectors([new_id]), new_vector)


def test_update_mtime_persists_and_keeps_the_vector(new_store, open_store, model_id, make_records, unit_vectors):
    gallery = new_store()
    vectors = unit_vectors(3)
    ids = gallery.add(make_records(3), vectors, model_id=model_id)
    gallery.commit()

    gallery.update_mtime("/images/0001.jpg", 999_000)
    assert gallery.find("/images/0001.jpg").mtime_ns == 999_000  # a writer sees its own change
    gallery.commit()

    with pytest.raises(KeyError):
        gallery.update_mtime("/images/missing.jpg", 1)
    gallery.close()
    with open_store() as reopened:
        assert reopened.find("/images/0001.jpg").mtime_ns == 999_000
        assert reopened.find("/images/0000.jpg").mtime_ns == 0
        np.testing.assert_allclose(reopened.vectors(ids), vectors, rtol=1e-6)
        assert [hit.image.id for hit in reopened.search(vectors[1:2], 1)[0]] == [ids[1]]


def test_remove_forgets_images_and_persists(new_store, open_store, model_id, make_records, unit_vectors):
    gallery = new_store()
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
    with open_store() as reopened:
        assert [image.id for image in reopened.images()] == [ids[0], ids[2], ids[3], ids[5]]
        np.testing.assert_array_equal(reopened.vectors([ids[5], ids[0]]), stored[[5, 0]])


def test_removing_everything_leaves_an_empty_searchable_gallery(new_store, model_id, make_records, unit_vectors):
    gallery = new_store()
    gallery.add(make_records(3), unit_vectors(3), model_id=model_id)

    assert gallery.remove(record.path for record in make_records(3)) == 3

    assert len(gallery) == 0 and gallery.images() == []
    assert gallery.search(unit_vectors(1), 3) == [[]]


def test_ids_are_never_reused(new_store, model_id, make_records, unit_vectors):
    gallery = new_store()
    first = gallery.add(make_records(3), unit_vectors(3), model_id=model_id)
    gallery.remove(["/images/0002.jpg"])  # the highest id

    second = gallery.add(make_records(1, start=7), unit_vectors(1), model_id=model_id)

    assert second[0] > max(first)


def test_get_and_vectors_refuse_unknown_ids(new_store, model_id, make_records, unit_vectors):
    gallery = new_store()
    ids = gallery.add(make_records(2), unit_vectors(2), model_id=model_id)

    assert [image.id for image in gallery.get([ids[1], ids[0]])] == [ids[1], ids[0]]
    assert gallery.vectors([]).shape == (0, 8)
    with pytest.raises(KeyError, match="12345"):
        gallery.get([ids[0], 12345])
    with pytest.raises(KeyError, match="12345"):
        gallery.vectors([12345])


def test_another_model_is_refused_and_nothing_changes(new_store, open_store, model_id, make_records, unit_vectors):
    gallery = new_store()
    gallery.add(make_records(2), unit_vectors(2), model_id=model_id)
    gallery.commit()
    gallery.close()

    with open_store() as gallery:
        with pytest.raises(ModelMismatchError) as refusal:
            gallery.add(make_records(2, start=5), unit_vectors(2), model_id="other-model")
        gallery.commit()
        gallery.check_model(model_id)  # the right model passes

    message = str(refusal.value)
    assert model_id in message and "other-model" in message
    assert "re-index into a new gallery or pass the model that built it" in message
    with open_store() as reopened:
        assert len(reopened) == 2


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
def test_bad_vectors_are_rejected_before_anything_changes(new_store, model_id, make_records, vectors, complaint):
    gallery = new_store()

    with pytest.raises(ValueError, match=complaint):
        gallery.add(make_records(1), vectors, model_id=model_id)

    assert len(gallery) == 0 and gallery.images() == []


def test_float64_unit_vectors_are_accepted(new_store, model_id, make_records):
    gallery = new_store()

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
def test_bad_records_are_rejected(new_store, model_id, unit_vectors, records, complaint):
    gallery = new_store()

    with pytest.raises(ValueError, match=complaint):
        gallery.add(records, unit_vectors(2), model_id=model_id)

    assert len(gallery) == 0


def test_threshold_persists(new_store, open_store):
    gallery = new_store()

    gallery.set_threshold(0.42)
    gallery.close()
    with open_store() as reopened:
        assert reopened.info.threshold == pytest.approx(0.42)
        reopened.set_threshold(None)
    with open_store() as reopened:
        assert reopened.info.threshold is None
        for outside in (-0.1, 2.5):  # a distance lies in [0, 2]
            with pytest.raises(ValueError):
                reopened.set_threshold(outside)


def test_renaming_an_identity_relabels_its_images_and_keeps_their_vectors(new_store, open_store, model_id,
                                                                          make_records, unit_vectors):
    gallery = new_store()
    records = [replace(record, identity=name) for record, name in zip(make_records(3), ["ann", "bob", "ann"])]
    vectors = unit_vectors(3)
    ids = gallery.add(records, vectors, model_id=model_id)
    assert gallery.rename_identity("ann", "anna") == 2 and gallery.rename_identity("zed", "x") == 0
    gallery.commit()
    gallery.close()
    with open_store() as reopened:
        assert [image.identity for image in reopened.get(ids)] == ["anna", "bob", "anna"]
        np.testing.assert_allclose(reopened.vectors(ids), vectors, rtol=1e-6)


def test_context_manager_closes_without_committing(new_store, open_store, model_id, make_records, unit_vectors):
    new_store().close()

    with open_store() as gallery:
        gallery.add(make_records(2), unit_vectors(2), model_id=model_id)
    with pytest.raises(ValueError, match="closed"):
        gallery.images()
    gallery.close()  # a second close is harmless

    with open_store() as reopened:
        assert len(reopened) == 0


def test_threads_can_share_one_gallery(new_store, model_id, make_records, unit_vectors):
    gallery = new_store()
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


# --- readers and writers ---

@pytest.mark.parametrize(
    "change",
    [
        lambda gallery, records, vectors, model_id: gallery.add(records, vectors, model_id=model_id),
        lambda gallery, records, vectors, model_id: gallery.remove(["/images/0001.jpg"]),
        lambda gallery, records, vectors, model_id: gallery.update_mtime("/images/0001.jpg", 5),
        lambda gallery, records, vectors, model_id: gallery.set_identity([1], "ann"),
        lambda gallery, records, vectors, model_id: gallery.set_threshold(0.5),
        lambda gallery, records, vectors, model_id: gallery.rebuild("hnsw"),
    ],
    ids=["add", "remove", "update_mtime", "set_identity", "set_threshold", "rebuild"],
)
def test_read_only_gallery_refuses_every_change(committed_store, open_store, model_id, make_records, unit_vectors,
                                                change):
    with open_store(read_only=True) as gallery:
        with pytest.raises(LookalikeError, match="read-only") as refusal:
            change(gallery, make_records(1, start=9), unit_vectors(1), model_id)
        assert committed_store in str(refusal.value)
        assert len(gallery) == 3
        gallery.commit()  # nothing pending: nothing to do
    with open_store() as reopened:
        assert len(reopened) == 3 and reopened.info.threshold is None and reopened.identities() == {}


def test_reader_sees_only_what_a_concurrent_writer_has_committed(committed_store, open_store, model_id, make_records,
                                                                 unit_vectors):
    with open_store() as writer:
        writer.add(make_records(2, start=3), unit_vectors(2), model_id=model_id)
        writer.set_identity([1], "ann")

        with open_store(read_only=True) as reader:
            assert len(reader) == 3 and len(reader.images()) == 3 and reader.identities() == {}

        writer.commit()

        with open_store(read_only=True) as reader:
            assert len(reader) == 5 and len(reader.images()) == 5 and reader.identities() == {"ann": 1}


def test_refresh_brings_a_long_lived_reader_up_to_the_latest_commit(committed_store, open_store, model_id,
                                                                    make_records, unit_vectors):
    with open_store(read_only=True) as reader:
        assert reader.refresh() is False
        with open_store() as writer:
            added = writer.add(make_records(2, start=3), unit_vectors(2), model_id=model_id)
            writer.commit()
            writer.set_threshold(0.3)
        assert reader.refresh() is True
        assert len(reader) == 5 and reader.info.threshold == 0.3
        assert reader.vectors(added).shape == (2, 8)
        assert [hit.image.id for hit in reader.search(reader.vectors(added[:1]), 1)[0]] == added[:1]
        assert reader.refresh() is False


def test_uncommitted_changes_are_gone_after_close(new_store, open_store, model_id, make_records, unit_vectors):
    gallery = new_store()
    gallery.add(make_records(3), unit_vectors(3), model_id=model_id)
    gallery.commit()
    gallery.add(make_records(2, start=3), unit_vectors(2), model_id=model_id)
    gallery.remove(["/images/0000.jpg"])
    gallery.update_mtime("/images/0001.jpg", 777)
    gallery.set_identity([2], "ann")
    gallery.close()

    with open_store() as reopened:
        assert [image.path for image in reopened.images()] == [record.path for record in make_records(3)]
        assert reopened.find("/images/0001.jpg").mtime_ns == 1
        assert len(reopened) == 3 and reopened.identities() == {}


def test_a_second_writer_cannot_overwrite_a_newer_commit(new_store, open_store, model_id, make_records, unit_vectors):
    new_store().close()
    first, second = open_store(), open_store()
    first.add(make_records(1), unit_vectors(1), model_id=model_id)
    first.commit()

    with pytest.raises(LookalikeError, match="changed by another writer"):
        second.add(make_records(1, start=5), unit_vectors(1), model_id=model_id)
    first.close()
    second.close()
    with open_store() as reopened:
        assert [image.path for image in reopened.images()] == ["/images/0000.jpg"]


# --- identities ---

def test_set_identity_enrols_stored_images_and_recognition_searches_only_them(
    new_store, open_store, model_id, make_records, unit_vectors
):
    gallery = new_store()
    vectors = unit_vectors(20)
    ids = gallery.add(make_records(20), vectors, model_id=model_id)
    gallery.commit()

    assert gallery.set_identity([ids[3], ids[7]], "ann") == 2
    [hits] = gallery.search(vectors[:1], 5, enrolled_only=True)  # pending enrolment is searched too
    assert sorted(hit.image.id for hit in hits) == [ids[3], ids[7]]
    with pytest.raises(KeyError, match="12345"):
        gallery.set_identity([12345], "bob")
    gallery.commit()
    gallery.close()

    with open_store() as reopened:
        assert reopened.identities() == {"ann": 2}
        assert [image.id for image in reopened.enrolled_as("ann")] == [ids[3], ids[7]]
        [hits] = reopened.search(vectors[7:8], 1, enrolled_only=True)
        assert hits[0].image.id == ids[7] and hits[0].score == pytest.approx(1.0, abs=1e-5)
        reopened.set_identity([ids[3]], None)
        assert reopened.identities() == {"ann": 1}


def test_nearest_gives_scores_and_ids_padded_with_minus_one(new_store, model_id, make_records, unit_vectors):
    gallery = new_store()
    stored = unit_vectors(5)
    ids = gallery.add(make_records(3), stored[:3], model_id=model_id)
    gallery.commit()
    gallery.add(make_records(2, start=3), stored[3:], model_id=model_id)  # pending rows are neighbours too

    scores, found = gallery.nearest(stored[:2], 7)

    assert scores.shape == found.shape == (2, 7)
    assert found[0, 0] == ids[0] and found[1, 0] == ids[1] and set(found[0, :5]) == set(range(1, 6))
    assert (found[:, 5:] == -1).all() and np.isneginf(scores[:, 5:]).all()
    assert (np.diff(scores[:, :5], axis=1) <= 1e-6).all()


# --- index kinds ---

def top_ids(gallery, queries: np.ndarray, k: int = 1) -> list[list[int]]:
    return [[hit.image.id for hit in row] for row in gallery.search(queries, k)]


@pytest.mark.parametrize("kind", INDEX_KINDS)
def test_each_kind_finds_neighbours_survives_reopen_and_supports_remove(new_store, open_store, model_id,
                                                                        make_records, clustered, exact_nearest, kind):
    stored, queries = clustered
    gallery = new_store(kind, dim=stored.shape[1])
    records = make_records(600)
    ids = gallery.add(records, stored, model_id=model_id)
    gallery.commit()
    found = [row[0] for row in top_ids(gallery, queries)]
    recall = np.mean(np.array(found) == np.array(exact_nearest(stored, ids, queries)))
    assert recall == 1.0 if kind == "flat" else recall >= 0.95
    before = gallery.search(queries, 5)
    gone = set(range(0, 600, 3))
    gallery.close()

    with open_store() as reopened:
        assert reopened.info.index == kind and len(reopened) == 600
        assert [[hit.image.id for hit in row] for row in reopened.search(queries, 5)] == \
            [[hit.image.id for hit in row] for row in before]
        np.testing.assert_array_equal(reopened.vectors(ids[::7]), stored[::7])
        assert reopened.remove(records[position].path for position in gone) == 200
        reopened.commit()

    kept = [position for position in range(600) if position not in gone]
    with open_store() as reopened:
        assert len(reopened) == 400
        hits = top_ids(reopened, queries, 10)
        assert not {ids[position] for position in gone} & {id_ for row in hits for id_ in row}
        found = [row[0] for row in hits]
        expected = exact_nearest(stored[kept], [ids[position] for position in kept], queries)
        assert np.mean(np.array(found) == np.array(expected)) >= 0.95


def test_rebuild_changes_kind_at_commit_and_keeps_every_vector(new_store, open_store, model_id, make_records,
                                                               clustered, exact_nearest):
    stored, queries = clustered
    gallery = new_store("flat", dim=stored.shape[1])
    ids = gallery.add(make_records(600), stored, model_id=model_id)
    gallery.commit()

    gallery.rebuild("hnsw")
    assert gallery.info.index == "hnsw"
    with open_store(read_only=True) as reader:
        assert reader.info.index == "flat"  # not until commit
    gallery.commit()
    gallery.close()

    with open_store() as reopened:
        assert reopened.info.index == "hnsw"
        np.testing.assert_array_equal(reopened.vectors(ids), stored)
        found = [row[0] for row in top_ids(reopened, queries)]
        assert np.mean(np.array(found) == np.array(exact_nearest(stored, ids, queries))) >= 0.95
        reopened.rebuild("ivf")
    with open_store() as reopened:
        assert reopened.info.index == "hnsw"  # the uncommitted rebuild was discarded


def test_unknown_index_kind_is_refused(new_store, location):
    with pytest.raises(LookalikeError, match="unknown index kind 'annoy'"):
        store_kind_for(location).create(location, model_id="m", dim=8, index="annoy")
    assert not store_kind_for(location).exists(location)
    with pytest.raises(LookalikeError, match="unknown index kind"):
        new_store().rebuild("annoy")


def test_equal_scores_come_lower_id_first(new_store, model_id, make_records, unit_vectors):
    """Copies of one photo score alike; ordering them by id makes two stores built alike answer alike."""
    gallery = new_store()
    vectors = unit_vectors(6)
    vectors[[1, 3, 5]] = vectors[0]  # four copies
    ids = gallery.add(make_records(6), vectors, model_id=model_id)

    [hits] = gallery.search(vectors[:1], 4)

    assert [hit.image.id for hit in hits] == [ids[0], ids[1], ids[3], ids[5]]
