"""Small builders shared by the gallery tests: random unit vectors, image records, and a gallery folder."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from lookalike.gallery import GalleryStore, store_kind_for
from lookalike.gallery.embedded import Gallery
from lookalike.gallery.records import ImageRecord

MODEL_ID = "encoder-abc123"
DIM = 8


@pytest.fixture
def model_id() -> str:
    return MODEL_ID


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture
def unit_vectors(rng: np.random.Generator) -> Callable[..., np.ndarray]:
    def make(count: int, dim: int = DIM) -> np.ndarray:
        vectors = rng.standard_normal((count, dim)).astype(np.float32)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    return make


@pytest.fixture
def clustered(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """600 16-d unit vectors in 30 tight clusters, and 60 queries that are noisy copies of stored vectors."""
    centres = rng.standard_normal((30, 16))
    points = np.repeat(centres, 20, axis=0) + 0.15 * rng.standard_normal((600, 16))
    queries = points[rng.choice(600, 60, replace=False)] + 0.05 * rng.standard_normal((60, 16))
    unit = lambda rows: (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)  # noqa: E731
    return unit(points), unit(queries)


@pytest.fixture
def exact_nearest() -> Callable[[np.ndarray, list[int], np.ndarray], list[int]]:
    """The id of each query's exact nearest stored vector, given the stored vectors and their ids."""

    def nearest(stored: np.ndarray, ids: list[int], queries: np.ndarray) -> list[int]:
        return [ids[position] for position in np.argmax(queries @ stored.T, axis=1)]

    return nearest


@pytest.fixture
def make_records() -> Callable[..., list[ImageRecord]]:
    """Records for ``/images/0000.jpg`` and so on; paths are keys only, no file needs to exist."""

    def make(count: int, start: int = 0, sha256: str = "0" * 64) -> list[ImageRecord]:
        return [
            ImageRecord(path=f"/images/{number:04d}.jpg", size=1000 + number, mtime_ns=number, sha256=sha256)
            for number in range(start, start + count)
        ]

    return make


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return tmp_path / "gallery"


@pytest.fixture
def committed(new_gallery: Callable[..., Gallery], folder: Path, model_id: str,
              make_records: Callable[..., list[ImageRecord]], unit_vectors: Callable[..., np.ndarray]) -> Path:
    """A closed gallery folder holding three committed images."""
    gallery = new_gallery()
    gallery.add(make_records(3), unit_vectors(3), model_id=model_id)
    gallery.commit()
    gallery.close()
    return folder


@pytest.fixture
def new_gallery(folder: Path) -> Iterator[Callable[..., Gallery]]:
    """Create galleries in ``folder`` (at most one per test) and close them at teardown."""
    opened: list[Gallery] = []

    def create(index: str = "flat", dim: int = DIM, **options: int) -> Gallery:
        gallery = Gallery.create(folder, model_id=MODEL_ID, dim=dim, index=index, **options)
        opened.append(gallery)
        return gallery

    yield create
    for gallery in opened:
        gallery.close()


def folder_state(folder: Path) -> dict[str, tuple[int, int, bytes]]:
    """Every file under ``folder`` with its size, mtime and content: equal states mean nothing was written."""
    return {
        str(path.relative_to(folder)): (path.stat().st_size, path.stat().st_mtime_ns, path.read_bytes())
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


@pytest.fixture
def snapshot() -> Callable[[Path], dict[str, tuple[int, int, bytes]]]:
    return folder_state


# --- the store contract: fixtures that run a test once per kind of store ---

STORE_KINDS = {"folder": "gallery", "milvus": "gallery.db"}
"""Each kind of store, with the name of a location of that kind (a Milvus Lite file for Milvus)."""


@pytest.fixture(params=list(STORE_KINDS))
def location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where a contract test keeps its gallery; the test runs once per kind of store."""
    if request.param == "milvus":
        pytest.importorskip("milvus_lite", reason="the Milvus store needs the milvus extra (make test installs it)")
    location = str(tmp_path / STORE_KINDS[request.param])
    assert store_kind_for(location).name == request.param
    return location


@pytest.fixture
def open_store(location: str) -> Iterator[Callable[..., GalleryStore]]:
    """Open the gallery at ``location`` (read-only when asked); everything opened is closed at teardown."""
    opened: list[GalleryStore] = []

    def open_(read_only: bool = False) -> GalleryStore:
        store = store_kind_for(location).open(location, read_only)
        opened.append(store)
        return store

    yield open_
    for store in opened:
        store.close()


@pytest.fixture
def new_store(location: str) -> Iterator[Callable[..., GalleryStore]]:
    """Create the gallery at ``location`` (once per test) and close it at teardown."""
    opened: list[GalleryStore] = []

    def create(index: str = "flat", dim: int = DIM, **options: int) -> GalleryStore:
        store = store_kind_for(location).create(location, model_id=MODEL_ID, dim=dim, index=index, **options)
        opened.append(store)
        return store

    yield create
    for store in opened:
        store.close()


@pytest.fixture
def committed_store(new_store: Callable[..., GalleryStore], location: str,
                    make_records: Callable[..., list[ImageRecord]], unit_vectors: Callable[..., np.ndarray]) -> str:
    """The location of a closed gallery holding three committed images."""
    store = new_store()
    store.add(make_records(3), unit_vectors(3), model_id=MODEL_ID)
    store.commit()
    store.close()
    return location
