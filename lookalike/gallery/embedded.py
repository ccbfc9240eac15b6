"""The embedded gallery: one folder, FAISS for the vectors, SQLite for the images they came from.

Layout of the folder::

    gallery.json                 model id, dim, metric, index kind, search effort, threshold  (manifest.py)
    gallery.sqlite               one row per image, row id = FAISS id; the committed generation  (catalog.py)
    vectors-<generation>.faiss   the index holding exactly the committed rows' vectors         (vector_index.py)
    model/                       left to the caller, who keeps the model that made the vectors there

A commit is atomic across the two stores. Changes live in the in-memory index and in an open SQLite transaction;
``commit()`` writes the index to a new generation file, then records that generation in the same transaction and
commits it. That SQLite COMMIT is the one moment the change happens: a crash before it leaves the previous generation
and rows, and the unreferenced new file is overwritten by the next commit. Afterwards files older than the previous
generation are deleted; the previous one stays for a reader that read its number just before the commit.

Concurrency: one writer at a time. A writer whose gallery was committed to by another since it opened it is refused
at its first change, rather than overwriting the other's work. A read-only gallery searches the index that was
committed when it was opened; its metadata queries see later commits, and since ids are never reused an image
removed since is left out of hits, never mistaken for another. ``refresh()`` brings a long-lived reader up to the
latest commit. Within a process, one lock per ``Gallery`` serialises every use, so a server's threads can share one:
simple and safe, and FAISS still uses several cores inside a search.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from types import TracebackType

import numpy as np

from lookalike.atomic import fsync_dir
from lookalike.errors import LookalikeError, ModelMismatchError, StorageFailed, WriteFailed
from lookalike.gallery.catalog import CATALOG_NAME, Catalog
from lookalike.gallery.checks import check_index_kind, check_query_args, check_records, unit_vectors
from lookalike.gallery.manifest import MANIFEST_NAME, Manifest
from lookalike.gallery.records import GalleryInfo, Hit, ImageRecord, StoredImage, best_first
from lookalike.gallery.vector_index import (
    INDEX_KINDS,
    SearchEffort,
    VectorIndex,
    empty_index,
    load_index,
    rebuild_index,
)

__all__ = ["INDEX_KINDS", "Gallery"]

MODEL_DIR_NAME = "model"

_STAGING_PREFIX = ".%s.creating-"
"""A gallery being created is made in ``.<name>.creating-<pid>`` beside its folder, then renamed into place."""
_GENERATION_FILE = re.compile(r"vectors-(\d+)\.faiss")
_FAISS_ERROR_PREFIX = re.compile(r"^Error in .*? at \S+:\d+: ")  # where in FAISS's C++ it failed: no help to a user


def _vectors_path(folder: Path, generation: int) -> Path:
    return folder / f"vectors-{generation}.faiss"


class Gallery:
    """An open gallery folder; make one with ``create`` or ``open``.

    Changes are invisible to anyone else, and lost on ``close()``, until ``commit()``. Used as a context manager it
    closes on exit and never commits for you: call ``commit()`` inside the block.
    """

    def __init__(
        self, folder: Path, manifest: Manifest, catalog: Catalog, index: VectorIndex, generation: int, read_only: bool
    ) -> None:
        self.folder = folder
        self.location = str(folder)
        self.model_dir = folder / MODEL_DIR_NAME
        self.read_only = read_only
        self._manifest = manifest
        self._catalog: Catalog | None = catalog  # None once closed
        self._index = index
        self._generation = generation  # the committed generation that self._index started from
        self._index_changed = False  # whether the next commit needs a new generation file
        self._lock = threading.RLock()
        self._changes = 0  # counts changes through this handle, kept or discarded: the enrolled cache's key
        self._enrolled: tuple[tuple[int, int, int], np.ndarray, np.ndarray] | None = None

    @classmethod
    def create(
        cls,
        folder: str | Path,
        *,
        model_id: str,
        dim: int,
        index: str = "flat",
        ef_search: int = SearchEffort.ef_search,
        nprobe: int = SearchEffort.nprobe,
        fill: Callable[[Path], object] | None = None,
    ) -> Gallery:
        """Make an empty gallery for vectors of ``model_id`` in a new or empty folder, and open it for writing.

        The gallery is made whole in a hidden folder beside ``folder``, together with whatever ``fill(staging)`` adds
        (the caller's copy of the model), and moved into place with one rename: a crash leaves either no gallery or a
        complete one, never a half-made folder that every later command would refuse.
        """
        folder = Path(folder)
        check_index_kind(index)
        manifest = Manifest.new(model_id=model_id, dim=dim, index=index, effort=SearchEffort(ef_search, nprobe))
        if cls.exists(folder):
            raise LookalikeError(f"{folder} already holds a gallery")
        if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
            raise LookalikeError(f"cannot create a gallery in {folder}: it exists and is not an empty folder")
        staging = folder.parent / f"{_STAGING_PREFIX % folder.name}{os.getpid()}"
        try:
            folder.parent.mkdir(parents=True, exist_ok=True)
            _remove_abandoned_stagings(folder)
            staging.mkdir()
            Catalog.create(staging / CATALOG_NAME)
            empty_index(index, dim, manifest.effort).save(_vectors_path(staging, 0))
            manifest.write(staging)
            if fill is not None:
                fill(staging)
            os.rename(staging, folder)  # onto nothing, or onto an empty folder: both are one atomic step
            fsync_dir(folder.parent)
        except (OSError, sqlite3.Error, LookalikeError) as error:
            shutil.rmtree(staging, ignore_errors=True)
            raise LookalikeError(f"cannot create a gallery in {folder}: {error}; nothing was created") from None
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return cls.open(folder)

    @classmethod
    def open(cls, folder: str | Path, *, read_only: bool = False) -> Gallery:
        """Open an existing gallery, checking that its metadata and index agree; read-only opening writes nothing."""
        folder = Path(folder)
        if not folder.exists():
            raise LookalikeError(f"gallery {folder} does not exist")
        if not folder.is_dir():
            raise LookalikeError(f"{folder} is not a folder, so not a gallery")
        manifest = Manifest.read(folder)
        try:
            catalog = Catalog.open(folder / CATALOG_NAME, read_only=read_only)
        except sqlite3.Error as error:
            raise _unreadable_catalog(folder, error) from None
        try:
            generation, ids = catalog.snapshot()
            index = _load_checked(folder, generation, ids, manifest)
        except sqlite3.Error as error:
            catalog.close()
            raise _unreadable_catalog(folder, error) from None
        except BaseException:
            catalog.close()
            raise
        return cls(folder, manifest, catalog, index, generation, read_only)

    @classmethod
    def exists(cls, folder: str | Path) -> bool:
        return (Path(folder) / MANIFEST_NAME).is_file()

    @property
    def info(self) -> GalleryInfo:
        with self._lock:
            manifest = self._manifest
            return GalleryInfo(
                model_id=manifest.model_id,
                dim=manifest.dim,
                metric=manifest.metric,
                index=self._index.kind,
                threshold=manifest.threshold,
                count=self._index.ntotal,
            )

    def __len__(self) -> int:
        with self._lock:
            return self._index.ntotal

    def __enter__(self) -> Gallery:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def check_model(self, model_id: str) -> None:
        if model_id != self._manifest.model_id:
            raise ModelMismatchError(
                f"gallery {self.folder} holds vectors made by model {self._manifest.model_id!r}, not {model_id!r}: "
                "re-index into a new gallery or pass the model that built it"
            )

    def add(self, records: Sequence[ImageRecord], vectors: np.ndarray, *, model_id: str) -> list[int]:
        """Store one unit vector per record and return the new ids, in order.

        A record whose path is already stored replaces that entry, vector included, under a new id: this is how a
        changed file is re-indexed.
        """
        self.check_model(model_id)
        vectors = unit_vectors(vectors, self._manifest.dim, "vectors")
        check_records(records, len(vectors))
        with self._changing() as catalog:
            if not records:
                return []
            replaced = catalog.ids_of(record.path for record in records)
            if replaced:
                catalog.delete(replaced)
                self._index.remove(np.array(replaced, dtype=np.int64))
            ids = catalog.insert(records)
            self._index.add(np.array(ids, dtype=np.int64), vectors)
            self._index_changed = True
        return ids

    def find(self, path: str, region: str | None = None) -> StoredImage | None:
        """The stored `region` of the file at `path`, or with None, its first stored region."""
        with self._lock:
            return self._open_catalog().find(path, region)

    def images(self) -> list[StoredImage]:
        """Every stored image, ordered by id."""
        with self._lock:
            return self._open_catalog().all()

    def get(self, ids: Sequence[int]) -> list[StoredImage]:
        """The images with these ids, in the same order; ``KeyError`` names any id that is not stored."""
        with self._lock:
            return self._known(ids)

    def update_mtime(self, path: str, mtime_ns: int) -> None:
        """Record that a file was touched but its content hash, hence its vector, is unchanged."""
        if self.find(path) is None:
            raise KeyError(f"gallery {self.folder} has no image {path}")
        with self._changing() as catalog:
            catalog.update_mtime(path, mtime_ns)

    def rename_identity(self, old: str, new: str) -> int:
        """Give the images enrolled as `old` the identity `new`; returns how many there were. Vectors are kept."""
        with self._changing() as catalog:
            return catalog.rename_identity(old, new)

    def set_identity(self, ids: Sequence[int], identity: str | None) -> int:
        """Enrol the stored images `ids` as `identity` (None: as no one), vectors and ids unchanged; returns how
        many there were."""
        self.get(ids)  # every id must be stored
        with self._changing() as catalog:
            return catalog.set_identity(ids, identity)

    def remove(self, paths: Iterable[str]) -> int:
        """Forget these images and return how many were stored; paths that are not stored are ignored."""
        if isinstance(paths, str):
            raise TypeError("remove takes a collection of paths, not one path")
        with self._changing() as catalog:
            ids = catalog.ids_of(paths)
            if ids:
                catalog.delete(ids)
                self._index.remove(np.array(ids, dtype=np.int64))
                self._index_changed = True
        return len(ids)

    def vectors(self, ids: Sequence[int]) -> np.ndarray:
        """The stored vectors of these ids, as a float32 ``(len(ids), dim)`` array in the same order."""
        with self._lock:
            self._known(ids)
            return self._index.reconstruct(np.array(ids, dtype=np.int64))

    def search(
        self, queries: np.ndarray, k: int, *, exclude: Sequence[set[int] | None] | None = None,
        enrolled_only: bool = False,
    ) -> list[list[Hit]]:
        """The ``k`` stored images most alike to each query (rows of unit vectors), best first.

        ``k`` is capped at the number of images. ``exclude[i]`` holds ids to leave out of query i's hits (the query
        image itself, say) while still returning ``k`` hits: the index is asked for more and the excluded are
        dropped. ``hnsw`` and ``ivf`` are approximate: ``ivf`` can return fewer than ``k`` hits when the lists it
        visits hold fewer vectors. With ``enrolled_only``, only images enrolled under an identity are searched,
        exactly, whatever the index kind: their vectors are kept apart in memory until the enrolment changes.
        """
        queries = unit_vectors(queries, self._manifest.dim, "queries")
        excluded = check_query_args(k, exclude, len(queries))
        widest = max((len(ids) for ids in excluded), default=0)
        with self._lock:
            catalog = self._open_catalog()
            if enrolled_only:
                scores, ids = self._search_enrolled(catalog, queries, k + widest)
            elif self._index.ntotal == 0:
                return [[] for _ in excluded]
            else:
                scores, ids = self._index.search(queries, min(k + widest, self._index.ntotal))
            images = catalog.by_id(np.unique(ids[ids >= 0]))
        return [
            sorted((
                Hit(images[id_], score)
                for score, id_ in zip(row_scores, row_ids)
                if id_ in images and id_ not in skip  # -1 (no hit) is never in images
            ), key=best_first)[:k]
            for row_scores, row_ids, skip in zip(scores.tolist(), ids.tolist(), excluded)
        ]

    def nearest(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Scores and ids of the ``k`` stored vectors nearest each query, straight from the index (approximate for
        ``hnsw`` and ``ivf``), padded with id -1 and score -inf."""
        queries = unit_vectors(queries, self._manifest.dim, "queries")
        if k < 1:
            raise ValueError(f"k must be at least 1, not {k}")
        with self._lock:
            scores, ids = self._index.search(queries, k)
        return np.where(ids >= 0, scores, -np.inf).astype(np.float32), ids.astype(np.int64)

    def _search_enrolled(self, catalog: Catalog, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Scores and ids of the ``k`` enrolled images nearest each query, by exact inner product."""
        key = (catalog.data_version(), self._generation, self._changes)
        if self._enrolled is None or self._enrolled[0] != key:
            enrolled = np.array([image.id for image in catalog.enrolled()], dtype=np.int64)
            ids = np.intersect1d(enrolled, self._index.ids())  # rows committed after this index was loaded wait
            self._enrolled = key, ids, self._index.reconstruct(ids)
        _, ids, vectors = self._enrolled
        scores = queries @ vectors.T
        best = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        return np.take_along_axis(scores, best, axis=1), ids[best]

    def identities(self) -> dict[str, int]:
        """Each enrolled identity with its number of images, sorted by name."""
        with self._lock:
            return self._open_catalog().identities()

    def enrolled_as(self, identity: str) -> list[StoredImage]:
        """The images enrolled as `identity`, ordered by id."""
        with self._lock:
            return self._open_catalog().enrolled(identity)

    def set_threshold(self, threshold: float | None) -> None:
        """Store the calibrated decision threshold, or forget it; written at once, atomically.

        τ is a distance (1 − cosine similarity, or 1 − the pair head's probability), so it lies in [0, 2]; a pair
        closer than τ is "the same". It is not part of the pending transaction: τ describes the model, not the
        images stored.
        """
        if threshold is not None and not 0.0 <= threshold <= 2.0:
            raise ValueError(f"a distance threshold lies in [0, 2], not {threshold}")
        with self._lock:
            self._writable_catalog()
            manifest = replace(self._manifest, threshold=None if threshold is None else float(threshold))
            manifest.write(self.folder)
            self._manifest = manifest

    def rebuild(self, index: str) -> None:
        """Re-file every vector into a fresh index of kind ``index``; for ``ivf``, this retrains on all of them."""
        check_index_kind(index)
        with self._changing():
            self._index = rebuild_index(self._index, index)
            self._index_changed = True

    def commit(self) -> None:
        """Make every change since the last commit durable and visible to new openers, all at once.

        A commit that cannot be written (a full disk, say) discards the pending changes and raises a
        `LookalikeError`; the gallery on disk keeps its last commit, untouched."""
        with self._lock:
            catalog = self._open_catalog()
            if not catalog.in_transaction:
                return
            previous = self._generation
            generation = previous + 1 if self._index_changed else previous
            try:
                if self._index_changed:
                    self._remove_crash_leftovers()
                    self._index.save(_vectors_path(self.folder, generation))
                catalog.commit(generation)
            except (WriteFailed, sqlite3.Error) as error:
                self._discard_pending()
                raise StorageFailed(f"gallery {self.folder}: the commit failed ({error}); the gallery still holds "
                                     "what its last commit stored") from None
            self._generation, self._index_changed = generation, False
            if self._manifest.index != self._index.kind:
                self._manifest = replace(self._manifest, index=self._index.kind)
                self._manifest.write(self.folder)
            if generation != previous:
                self._remove_generations_before(previous)

    def refresh(self) -> bool:
        """Catch up with what other writers committed since this gallery was opened: reload the index when the
        committed generation moved on, and re-read ``gallery.json`` (τ may have been calibrated since). For a reader
        that stays open, such as a web server; a gallery with uncommitted changes of its own is left as it is.
        Returns whether the index was reloaded."""
        with self._lock:
            catalog = self._open_catalog()
            if catalog.in_transaction:
                return False
            self._manifest = Manifest.read(self.folder)
            if catalog.generation() == self._generation:
                return False
            try:
                generation, ids = catalog.snapshot()
            except sqlite3.Error as error:
                raise _unreadable_catalog(self.folder, error) from None
            self._index = _load_checked(self.folder, generation, ids, self._manifest)
            self._generation, self._index_changed = generation, False
            return True

    def close(self) -> None:
        """Release the gallery, discarding uncommitted changes; closing twice is harmless."""
        with self._lock:
            if self._catalog is not None:
                self._catalog.close()
                self._catalog = None

    def _open_catalog(self) -> Catalog:
        if self._catalog is None:
            raise ValueError(f"gallery {self.folder} is closed")
        return self._catalog

    def _writable_catalog(self) -> Catalog:
        catalog = self._open_catalog()
        if self.read_only:
            raise LookalikeError(f"gallery {self.folder} is open read-only; open it without read_only to change it")
        return catalog

    @contextmanager
    def _changing(self) -> Iterator[Catalog]:
        """Hold the lock and the write transaction for one change; if it fails half-way, discard all pending changes.

        Discarding everything, not just the failed change, is what keeps the index and the rows equal: the index has
        no partial undo, only the committed file to reload.
        """
        with self._lock:
            catalog = self._writable_catalog()
            if not catalog.in_transaction:
                self._begin(catalog)
            self._changes += 1
            try:
                yield catalog
            except sqlite3.Error as error:
                self._discard_pending()
                raise StorageFailed(f"gallery {self.folder}: cannot write {CATALOG_NAME} ({error}); the gallery "
                                     "still holds what its last commit stored") from None
            except BaseException:
                self._discard_pending()
                raise

    def _discard_pending(self) -> None:
        """Roll back the open transaction and reload the committed index, so rows and vectors stay equal."""
        catalog = self._open_catalog()
        if catalog.in_transaction:  # SQLite may already have rolled back, after a full disk
            catalog.rollback()
        self._index = load_index(_vectors_path(self.folder, self._generation), self._manifest.effort)
        self._index_changed = False
        self._changes += 1

    def _begin(self, catalog: Catalog) -> None:
        try:
            committed = catalog.begin()
        except sqlite3.OperationalError as error:
            raise LookalikeError(f"gallery {self.folder} is being changed by another process: {error}") from None
        if committed != self._generation:
            catalog.rollback()
            raise LookalikeError(
                f"gallery {self.folder} was changed by another writer since it was opened here; open it again"
            )

    def _known(self, ids: Sequence[int]) -> list[StoredImage]:
        found = self._open_catalog().by_id(ids)
        missing = [int(id_) for id_ in ids if int(id_) not in found]
        if missing:
            raise KeyError(f"gallery {self.folder} has no images with ids {missing}")
        return [found[int(id_)] for id_ in ids]

    def _remove_crash_leftovers(self) -> None:
        """Delete temporary index files that a crashed commit left behind.

        Only the holder of SQLite's write lock writes index files, and that is us, so none of them is in use.
        """
        for leftover in self.folder.glob(".vectors-*.tmp"):
            leftover.unlink(missing_ok=True)

    def _remove_generations_before(self, oldest_kept: int) -> None:
        for path in self.folder.glob("vectors-*.faiss"):
            match = _GENERATION_FILE.fullmatch(path.name)
            if match and int(match.group(1)) < oldest_kept:
                path.unlink(missing_ok=True)


def _remove_abandoned_stagings(folder: Path) -> None:
    """Delete the half-made galleries that killed creators of ``folder`` left beside it (their process is gone)."""
    prefix = _STAGING_PREFIX % folder.name
    for staging in folder.parent.glob(f"{glob.escape(prefix)}*"):
        pid = staging.name[len(prefix):]
        if pid.isdigit() and not _process_alive(int(pid)):
            shutil.rmtree(staging, ignore_errors=True)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # no signal sent: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, and is someone else's
        pass
    return True


def _unreadable_catalog(folder: Path, error: sqlite3.Error) -> LookalikeError:
    return LookalikeError(f"gallery {folder} is damaged: cannot read {CATALOG_NAME}: {error}")


def _load_checked(folder: Path, generation: int, ids: np.ndarray, manifest: Manifest) -> VectorIndex:
    """Load the committed index and refuse it unless it holds exactly the catalog's ids, in the manifest's dim."""
    path = _vectors_path(folder, generation)
    if not path.is_file():
        raise LookalikeError(f"gallery {folder} is damaged: its committed index {path.name} is missing")
    try:
        index = load_index(path, manifest.effort)
    except (RuntimeError, ValueError) as error:
        reason = _FAISS_ERROR_PREFIX.sub("", str(error))
        raise LookalikeError(f"gallery {folder} is damaged: cannot read {path.name}: {reason}") from None
    if index.dim != manifest.dim:
        raise LookalikeError(
            f"gallery {folder} is damaged: {path.name} holds {index.dim}-d vectors, {MANIFEST_NAME} says {manifest.dim}"
        )
    if not np.array_equal(np.sort(index.ids()), ids):
        raise LookalikeError(
            f"gallery {folder} is inconsistent: {CATALOG_NAME} lists {len(ids)} images with ids that differ from "
            f"the {index.ntotal} vectors in {path.name}"
        )
    return index
