"""Every index kind finds the right neighbours, survives a reopen, supports removal and can be rebuilt into another."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lookalike.errors import LookalikeError
from lookalike.gallery.embedded import INDEX_KINDS, Gallery
from lookalike.gallery.vector_index import ivf_list_count

DIM = 16


@pytest.fixture
def clustered(rng):
    """600 unit vectors in 30 tight clusters, and 60 queries that are noisy copies of stored vectors."""
    centres = rng.standard_normal((30, DIM))
    points = np.repeat(centres, 20, axis=0) + 0.15 * rng.standard_normal((600, DIM))
    queries = points[rng.choice(600, 60, replace=False)] + 0.05 * rng.standard_normal((60, DIM))
    unit = lambda rows: (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)  # noqa: E731
    return unit(points), unit(queries)


def nearest(stored: np.ndarray, ids: list[int], queries: np.ndarray) -> list[int]:
    return [ids[position] for position in np.argmax(queries @ stored.T, axis=1)]


def top_ids(gallery: Gallery, queries: np.ndarray, k: int = 1) -> list[list[int]]:
    return [[hit.image.id for hit in row] for row in gallery.search(queries, k)]


@pytest.mark.parametrize("kind", INDEX_KINDS)
def test_each_kind_finds_the_nearest_neighbour(new_gallery, model_id, make_records, clustered, kind):
    stored, queries = clustered
    gallery = new_gallery(kind, dim=DIM)
    ids = gallery.add(make_records(600), stored, model_id=model_id)

    found = [row[0] for row in top_ids(gallery, queries)]

    recall = np.mean(np.array(found) == np.array(nearest(stored, ids, queries)))
    assert recall == 1.0 if kind == "flat" else recall >= 0.95
    assert gallery.info.index == kind


@pytest.mark.parametrize("kind", INDEX_KINDS)
def test_each_kind_survives_reopen(new_gallery, folder, model_id, make_records, clustered, kind):
    stored, queries = clustered
    gallery = new_gallery(kind, dim=DIM)
    ids = gallery.add(make_records(600), stored, model_id=model_id)
    gallery.commit()
    before = gallery.search(queries, 5)
    gallery.close()

    with Gallery.open(folder) as reopened:
        assert reopened.info.index == kind and len(reopened) == 600
        assert reopened.search(queries, 5) == before
        np.testing.assert_array_equal(reopened.vectors(ids[::7]), stored[::7])


@pytest.mark.parametrize("kind", INDEX_KINDS)
def test_each_kind_supports_remove(new_gallery, folder, model_id, make_records, clustered, kind):
    stored, queries = clustered
    gallery = new_gallery(kind, dim=DIM)
    records = make_records(600)
    ids = gallery.add(records, stored, model_id=model_id)
    gone = set(range(0, 600, 3))

    assert gallery.remove(records[position].path for position in gone) == 200
    gallery.commit()
    gallery.close()

    kept = [position for position in range(600) if position not in gone]
    with Gallery.open(folder) as reopened:
        assert len(reopened) == 400
        hits = top_ids(reopened, queries, 10)
        assert not {ids[position] for position in gone} & {id_ for row in hits for id_ in row}
        found = [row[0] for row in hits]
        expected = nearest(stored[kept], [ids[position] for position in kept], queries)
        assert np.mean(np.array(found) == np.array(expected)) >= 0.95
        np.testing.assert_array_equal(reopened.vectors([ids[1], ids[599]]), stored[[1, 599]])


def test_hnsw_returns_k_hits_beyond_its_search_effort(new_gallery, model_id, make_records, unit_vectors):
    gallery = new_gallery("hnsw", ef_search=4)
    gallery.add(make_records(100), unit_vectors(100), model_id=model_id)

    [hits] = gallery.search(unit_vectors(1), 50)

    assert len(hits) == 50 and len({hit.image.id for hit in hits}) == 50


def test_ivf_drops_the_padding_of_lists_too_small_for_k(new_gallery, model_id, make_records, clustered):
    stored, queries = clustered
    gallery = new_gallery("ivf", dim=DIM, nprobe=1)
    ids = set(gallery.add(make_records(600), stored, model_id=model_id))

    hits = gallery.search(queries, 600)

    assert all(0 < len(row) < 600 for row in hits)  # each of the 15 lists holds far fewer than 600
    assert {hit.image.id for row in hits for hit in row} <= ids


def test_search_effort_is_kept_in_gallery_json(new_gallery, folder):
    new_gallery("hnsw", ef_search=128, nprobe=4)

    assert json.loads((folder / "gallery.json").read_text())["effort"] == {"ef_search": 128, "nprobe": 4}


def test_ivf_trains_on_a_tiny_first_add_and_keeps_working(new_gallery, model_id, make_records, clustered):
    stored, queries = clustered
    gallery = new_gallery("ivf", dim=DIM)
    first = gallery.add(make_records(3), stored[:3], model_id=model_id)
    later = gallery.add(make_records(597, start=3), stored[3:], model_id=model_id)
    ids = first + later

    assert [row[0] for row in top_ids(gallery, stored[:50])] == ids[:50]  # a single list: every search is exact
    gallery.rebuild("ivf")  # retrain now the gallery has grown
    found = [row[0] for row in top_ids(gallery, queries)]
    assert np.mean(np.array(found) == np.array(nearest(stored, ids, queries))) >= 0.95


@pytest.mark.parametrize(
    "count, lists", [(1, 1), (38, 1), (78, 2), (1000, 25), (10_000, 256), (100_000, 1265), (1_000_000, 4000)]
)
def test_ivf_list_count_grows_with_the_square_root_but_keeps_39_vectors_per_list(count, lists):
    assert ivf_list_count(count) == lists


def test_rebuild_changes_kind_at_commit_and_keeps_every_vector(
    new_gallery, folder, model_id, make_records, clustered
):
    stored, queries = clustered
    gallery = new_gallery("flat", dim=DIM)
    ids = gallery.add(make_records(600), stored, model_id=model_id)
    gallery.commit()

    gallery.rebuild("hnsw")
    assert gallery.info.index == "hnsw"
    assert json.loads((folder / "gallery.json").read_text())["index"] == "flat"  # not until commit
    gallery.commit()
    assert json.loads((folder / "gallery.json").read_text())["index"] == "hnsw"
    gallery.close()

    with Gallery.open(folder) as reopened:
        assert reopened.info.index == "hnsw"
        np.testing.assert_array_equal(reopened.vectors(ids), stored)
        found = [row[0] for row in top_ids(reopened, queries)]
        assert np.mean(np.array(found) == np.array(nearest(stored, ids, queries))) >= 0.95


def test_uncommitted_rebuild_is_discarded(new_gallery, folder, model_id, make_records, unit_vectors):
    gallery = new_gallery("flat")
    gallery.add(make_records(10), unit_vectors(10), model_id=model_id)
    gallery.commit()

    gallery.rebuild("ivf")
    gallery.close()

    with Gallery.open(folder) as reopened:
        assert reopened.info.index == "flat" and len(reopened) == 10


def test_unknown_index_kind_is_refused(new_gallery, folder):
    with pytest.raises(LookalikeError, match="unknown index kind 'annoy'"):
        Gallery.create(folder, model_id="m", dim=8, index="annoy")
    with pytest.raises(LookalikeError, match="unknown index kind"):
        new_gallery().rebuild("annoy")
