"""The folder store's own index mechanics: HNSW beyond its effort, IVF training and lists, effort in gallery.json
(what every store and index kind shares is in test_store_contract.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lookalike.gallery.embedded import Gallery
from lookalike.gallery.vector_index import ivf_list_count


def top_ids(gallery: Gallery, queries: np.ndarray, k: int = 1) -> list[list[int]]:
    return [[hit.image.id for hit in row] for row in gallery.search(queries, k)]


def test_hnsw_returns_k_hits_beyond_its_search_effort(new_gallery, model_id, make_records, unit_vectors):
    gallery = new_gallery("hnsw", ef_search=4)
    gallery.add(make_records(100), unit_vectors(100), model_id=model_id)

    [hits] = gallery.search(unit_vectors(1), 50)

    assert len(hits) == 50 and len({hit.image.id for hit in hits}) == 50


def test_ivf_drops_the_padding_of_lists_too_small_for_k(new_gallery, model_id, make_records, clustered):
    stored, queries = clustered
    gallery = new_gallery("ivf", dim=16, nprobe=1)
    ids = set(gallery.add(make_records(600), stored, model_id=model_id))

    hits = gallery.search(queries, 600)

    assert all(0 < len(row) < 600 for row in hits)  # each of the 15 lists holds far fewer than 600
    assert {hit.image.id for row in hits for hit in row} <= ids


def test_search_effort_is_kept_in_gallery_json(new_gallery, folder):
    new_gallery("hnsw", ef_search=128, nprobe=4)

    assert json.loads((folder / "gallery.json").read_text())["effort"] == {"ef_search": 128, "nprobe": 4}


def test_ivf_trains_on_a_tiny_first_add_and_keeps_working(new_gallery, model_id, make_records, clustered,
                                                          exact_nearest):
    stored, queries = clustered
    gallery = new_gallery("ivf", dim=16)
    first = gallery.add(make_records(3), stored[:3], model_id=model_id)
    later = gallery.add(make_records(597, start=3), stored[3:], model_id=model_id)
    ids = first + later

    assert [row[0] for row in top_ids(gallery, stored[:50])] == ids[:50]  # a single list: every search is exact
    gallery.rebuild("ivf")  # retrain now the gallery has grown
    found = [row[0] for row in top_ids(gallery, queries)]
    assert np.mean(np.array(found) == np.array(exact_nearest(stored, ids, queries))) >= 0.95


@pytest.mark.parametrize(
    "count, lists", [(1, 1), (38, 1), (78, 2), (1000, 25), (10_000, 256), (100_000, 1265), (1_000_000, 4000)]
)
def test_ivf_list_count_grows_with_the_square_root_but_keeps_39_vectors_per_list(count, lists):
    assert ivf_list_count(count) == lists
