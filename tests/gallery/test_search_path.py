"""The shortcuts a search takes give what the plain way gives: ids mapped outside FAISS's ``IndexIDMap2``, and
search hits' rows made into ``StoredImage`` without the dataclass's ``__init__``."""

from __future__ import annotations

import dataclasses
import pickle

import numpy as np
import pytest

from lookalike.gallery.catalog import _stored, _stored_quickly
from lookalike.gallery.records import StoredImage
from lookalike.gallery.vector_index import SearchEffort, empty_index


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_ids_mapped_here_equal_the_id_maps_own(kind, unit_vectors):
    index = empty_index(kind, 8, SearchEffort())
    queries = unit_vectors(5)
    assert index.search(queries, 3)[1].tolist() == [[-1] * 3] * 5  # empty: FAISS's padding

    index.add(np.arange(100, 160, dtype=np.int64), unit_vectors(60))
    index.remove(np.arange(100, 160, 3, dtype=np.int64))  # ids no longer follow positions
    index.add(np.arange(500, 510, dtype=np.int64), unit_vectors(10))
    for k in (1, 10, 60):  # 60 > 50 stored: rows end in -1
        scores, ids = index.search(queries, k)
        own_scores, own_ids = index._index.search(queries, k, params=index._search_parameters(k))
        np.testing.assert_array_equal(ids, own_ids)
        np.testing.assert_array_equal(scores, own_scores)
    assert (ids[:, -10:] == -1).all()

ROWS = [
    (7, "/photos/ada.jpg", 123, 456, "f" * 64, "cats", "ada", ""),
    (8, "/photos/bob.jpg", 0, 0, "0" * 64, None, None, "face 2"),
]


@pytest.mark.parametrize("row", ROWS)
def test_quick_rows_equal_dataclass_rows(row):
    quick, plain = _stored_quickly(row), _stored(row)
    assert type(quick) is StoredImage
    assert quick == plain and hash(quick) == hash(plain) and repr(quick) == repr(plain)
    assert dataclasses.asdict(quick) == dataclasses.asdict(plain)
    assert pickle.loads(pickle.dumps(quick)) == plain
    assert dataclasses.replace(quick, label="dogs") == dataclasses.replace(plain, label="dogs")
    with pytest.raises(dataclasses.FrozenInstanceError):
        quick.path = "/elsewhere.jpg"  # type: ignore[misc]


def test_stored_image_is_still_what_the_quick_path_assumes():
    """If StoredImage gains validation or slots, _stored_quickly would skip or break it: revisit it then."""
    assert not hasattr(StoredImage, "__post_init__")
    assert "__slots__" not in vars(StoredImage)
    assert [field.name for field in dataclasses.fields(StoredImage)] == [
        "path", "size", "mtime_ns", "sha256", "label", "identity", "region", "id",
    ]

