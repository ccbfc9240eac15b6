"""The Milvus gallery: vectors and their images' metadata in one Milvus collection, for collections that outgrow
a folder.

Locations, as pymilvus spells them: ``PATH.db`` is Milvus Lite, in this process (one process per database file);
``http://HOST:PORT`` is a Milvus server (Standalone, Distributed, or ``milvus-lite server``). ``?collection=NAME``
picks the collection, ``lookalike`` by default.

What a folder gallery keeps in ``gallery.json`` lives in the collection's properties: the model id, index kind,
search effort, τ, the next id to hand out, and a generation that counts commits. Path, size, mtime, sha256, label,
identity and region are scalar fields beside the vector. The copy of the model and the ``collection/`` state live in
a folder beside the vectors (``folder``): ``PATH.db.lookalike/NAME/`` for Milvus Lite; for a server, the folder the
properties name, made under the user's data directory on the machine that created the gallery.

Milvus has no transactions, so a handle keeps its changes (new rows with their vectors, removed ids, changed
metadata) and writes them at ``commit()``: the id counter first, then new and changed rows, then deletions, then the
generation. Every read overlays those pending changes on the committed rows, so a writer sees its own work and nobody
else does. A crash in the middle of a commit loses nothing stored, since rows are written before old ones are
deleted; a re-indexed file may then be stored twice until the next ``index`` replaces both rows.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import re
import shutil
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields, replace
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np

from lookalike.errors import LookalikeError, ModelMismatchError, StorageFailed
from lookalike.gallery.checks import check_index_kind, check_query_args, check_records, unit_vectors
from lookalike.gallery.embedded import MODEL_DIR_NAME
from lookalike.gallery.records import GalleryInfo, Hit, ImageRecord, StoredImage
from lookalike.gallery.registry import StoreKind, register_store
from lookalike.gallery.vector_index import HNSW_BUILD_EFFORT, HNSW_NEIGHBOURS, SearchEffort

DEFAULT_COLLECTION = "lookalike"
SIDE_SUFFIX = ".lookalike"
PAGE = 16_384
"""The most rows Milvus returns from one query, and the largest ``limit`` a search may ask for."""
WRITE_BATCH = 2_000
"""Rows per insert or delete call: well under gRPC's message limit for 2,048-d vectors with long paths."""
QUERY_BATCH = 512
"""Query vectors per search call."""
_TEXT_LENGTH = 65_535  # Milvus's longest VARCHAR
_COLLECTION_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,254}")
_RECORD_FIELDS = [field.name for field in fields(ImageRecord)]
_INDEX_TYPES = {"flat": "FLAT", "hnsw": "HNSW", "ivf": "IVF_FLAT"}
_PROPERTY = "lookalike."


@dataclass(frozen=True)
class MilvusLocation:
    """A gallery location split into what pymilvus connects to and the collection inside it."""

    text: str
    uri: str
    collection: str

    @classmethod
    def parse(cls, location: str | Path) -> MilvusLocation:
        text = str(location)
        base, _, query = text.partition("?")
        names = parse_qs(query).get("collection", [DEFAULT_COLLECTION]) if query else [DEFAULT_COLLECTION]
        if len(names) != 1 or not _COLLECTION_NAME.fullmatch(names[0]):
            raise LookalikeError(f"{text}: a Milvus collection name is letters, digits and _, not starting with a "
                                 f"digit; got {names}")
        uri = base if is_server(base) else str(Path(base).expanduser().resolve())
        return cls(text, uri, names[0])

    @property
    def lite(self) -> bool:
        return not is_server(self.uri)

    def default_folder(self) -> Path:
        """Where the model copy and collection state go when the gallery is created here."""
        if self.lite:
            return Path(self.uri + SIDE_SUFFIX) / self.collection
        data_home = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
        server = re.sub(r"[^A-Za-z0-9.-]+", "_", urlsplit(self.uri).netloc)
        return data_home / "lookalike" / "milvus" / server / self.collection


def is_server(location: str) -> bool:
    return location.startswith(("http://", "https://"))


def claims(location: str) -> bool:
    base = location.partition("?")[0]
    return is_server(base) or base.endswith(".db")


def _client(location: MilvusLocation) -> Any:
    """A client for `location`, with Milvus Lite's one-process rule and a missing install said in one line."""
    try:
        from pymilvus import MilvusClient
    except ImportError:
        raise LookalikeError(f"{location.text}: a Milvus gallery needs pymilvus (and milvus-lite for a .db file): "
                             "pip install 'lookalike[milvus]'") from None
    quiet = logging.getLogger("milvus_lite.server_manager")  # it logs a traceback, then pymilvus raises a summary
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)
    try:
        return MilvusClient(location.uri)
    except Exception as error:
        if location.lite and _locked_elsewhere(Path(location.uri)):
            raise LookalikeError(
                f"{location.text} is open in another process, and Milvus Lite lets one process at a time open a "
                f"database file: stop that process, or serve the file to several with `milvus-lite server "
                f"--data-dir {location.uri}` and use --gallery http://localhost:19530"
            ) from None
        raise LookalikeError(f"cannot reach Milvus at {location.text}: {_reason(error)}") from None
    finally:
        quiet.setLevel(level)


def _locked_elsewhere(database: Path) -> bool:
    """Whether another process holds Milvus Lite's lock on ``database`` (asked after this process failed to open
    it: had this process held it, opening would have worked)."""
    try:
        with open(database / "LOCK", "a+b") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            fcntl.flock(lock, fcntl.LOCK_UN)
    except BlockingIOError:
        return True
    except OSError:
        return False
    return False


def _reason(error: BaseException) -> str:
    message = getattr(error, "message", None) or str(error) or type(error).__name__
    return str(message).strip()


class MilvusGallery:
    """An open Milvus gallery; make one with ``create`` or ``open``. Keeps `GalleryStore`'s contract: changes are
    invisible to others, and lost on ``close()``, until ``commit()``; a context manager never commits for you."""

    # read from the collection's properties (see _load_properties)
    _model_id: str
    _dim: int
    _index_kind: str
    _effort: SearchEffort
    _threshold: float | None
    _next_id: int
    _generation: int

    def __init__(self, location: MilvusLocation, client: Any, properties: dict[str, str], read_only: bool) -> None:
        self.location = location.text
        self.read_only = read_only
        self._where = location
        self._client: Any | None = client  # None once closed
        self._lock = threading.RLock()
        self._load_properties(properties)
        self.folder = self._side_folder(properties)
        self._committed_count = self._count()
        self._added: dict[int, tuple[StoredImage, np.ndarray]] = {}
        self._changed: dict[int, StoredImage] = {}  # committed rows with new metadata; their vectors stay
        self._removed: set[int] = set()  # committed rows to delete
        self._rebuild_to: str | None = None

    # --- opening ---

    @classmethod
    def create(
        cls,
        location: str | Path,
        *,
        model_id: str,
        dim: int,
        index: str = "flat",
        ef_search: int = SearchEffort.ef_search,
        nprobe: int = SearchEffort.nprobe,
        fill: Callable[[Path], object] | None = None,
    ) -> MilvusGallery:
        """Make an empty collection for vectors of ``model_id`` and open it for writing; ``fill(folder)`` puts the
        caller's copy of the model in the folder beside it first, so a collection never exists without it."""
        check_index_kind(index)
        where = MilvusLocation.parse(location)
        effort = SearchEffort(ef_search, nprobe)
        if where.lite:
            Path(where.uri).parent.mkdir(parents=True, exist_ok=True)
        client = _client(where)
        folder, made = where.default_folder(), False
        try:
            if client.has_collection(where.collection):
                raise LookalikeError(f"{where.text} already holds a gallery")
            shutil.rmtree(folder, ignore_errors=True)  # left by a dropped collection of this name: nobody's now
            folder.mkdir(parents=True)
            made = True
            if fill is not None:
                fill(folder)
            properties = {
                "model_id": model_id, "index": index, "ef_search": str(effort.ef_search),
                "nprobe": str(effort.nprobe), "threshold": "", "next_id": "1", "generation": "0",
                "folder": str(folder.resolve()),
            }
            client.create_collection(where.collection, schema=_schema(dim),
                                     properties={_PROPERTY + key: value for key, value in properties.items()})
            _build_index(client, where.collection, index, 0)
        except BaseException as error:
            client.close()
            if made:  # nothing half-made is left: the collection is dropped, then its folder
                cls.delete(location)
            if isinstance(error, LookalikeError):
                raise
            if isinstance(error, Exception):
                raise LookalikeError(f"cannot create a gallery at {where.text}: {_reason(error)}") from None
            raise
        return cls.open(location, client=client)

    @classmethod
    def open(cls, location: str | Path, *, read_only: bool = False, client: Any = None) -> MilvusGallery:
        where = MilvusLocation.parse(location)
        client = client if client is not None else _client(where)
        try:
            if not client.has_collection(where.collection):
                raise LookalikeError(f"no gallery at {where.text}")
            properties = _properties(client, where.collection)
            if _PROPERTY + "model_id" not in properties:
                raise LookalikeError(f"{where.text}: collection {where.collection!r} was not made by lookalike; "
                                     "name another with ?collection=NAME")
            client.load_collection(where.collection)  # a server, or a new process, starts with it released
            return cls(where, client, properties, read_only)
        except BaseException:
            client.close()
            raise

    @classmethod
    def exists(cls, location: str | Path) -> bool:
        where = MilvusLocation.parse(location)
        if where.lite and not Path(where.uri).exists():
            return False  # asking Milvus Lite would make the file
        client = _client(where)
        try:
            return bool(client.has_collection(where.collection))
        finally:
            client.close()

    @classmethod
    def delete(cls, location: str | Path) -> None:
        """Drop the collection and its side folder, and a Milvus Lite file that then holds nothing."""
        where = MilvusLocation.parse(location)
        client = _client(where)
        try:
            folder = _properties(client, where.collection).get(_PROPERTY + "folder") \
                if client.has_collection(where.collection) else None
            client.drop_collection(where.collection)
            empty = not client.list_collections()
        finally:
            client.close()
        shutil.rmtree(folder or where.default_folder(), ignore_errors=True)
        if where.lite and empty:
            shutil.rmtree(where.uri, ignore_errors=True)
            side = Path(where.uri + SIDE_SUFFIX)
            if side.is_dir() and not any(side.iterdir()):
                side.rmdir()

    # --- what the protocol asks ---

    @property
    def info(self) -> GalleryInfo:
        with self._lock:
            return GalleryInfo(model_id=self._model_id, dim=self._dim, metric="cosine",
                               index=self._rebuild_to or self._index_kind,
                               threshold=self._threshold, count=len(self))

    @property
    def model_dir(self) -> Path:
        return self.folder / MODEL_DIR_NAME

    def __len__(self) -> int:
        with self._lock:
            return self._committed_count + len(self._added) - len(self._removed)

    def __enter__(self) -> MilvusGallery:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    def check_model(self, model_id: str) -> None:
        if model_id != self._model_id:
            raise ModelMismatchError(
                f"gallery {self.location} holds vectors made by model {self._model_id!r}, not {model_id!r}: "
                "re-index into a new gallery or pass the model that built it"
            )

    def add(self, records: Sequence[ImageRecord], vectors: np.ndarray, *, model_id: str) -> list[int]:
        """Store one unit vector per record under new ids; the records of a file replace every region stored
        for it."""
        self.check_model(model_id)
        vectors = unit_vectors(vectors, self._dim, "vectors")
        check_records(records, len(vectors))
        for record in records:
            _check_text(record)
        with self._changing():
            self.remove({record.path for record in records})
            ids = list(range(self._next_id, self._next_id + len(records)))
            self._next_id += len(records)
            for id_, record, vector in zip(ids, records, vectors):
                self._added[id_] = (StoredImage(**_record_values(record), id=id_), vector)
        return ids

    def find(self, path: str, region: str | None = None) -> StoredImage | None:
        with self._lock:
            candidates = [image for image in self._rows_of([path]) if region is None or image.region == region]
            return min(candidates, key=lambda image: image.id, default=None)

    def images(self) -> list[StoredImage]:
        with self._lock:
            committed = [image for page in self._pages() for image in page]
            return self._overlay(committed)

    def get(self, ids: Sequence[int]) -> list[StoredImage]:
        with self._lock:
            return self._known(ids)

    def update_mtime(self, path: str, mtime_ns: int) -> None:
        with self._lock:
            images = self._rows_of([path])
            if not images:
                raise KeyError(f"gallery {self.location} has no image {path}")
            with self._changing():
                for image in images:
                    self._set(replace(image, mtime_ns=mtime_ns))

    def rename_identity(self, old: str, new: str) -> int:
        with self._lock:
            enrolled = self.enrolled_as(old)
            with self._changing():
                for image in enrolled:
                    self._set(replace(image, identity=new))
            return len(enrolled)

    def set_identity(self, ids: Sequence[int], identity: str | None) -> int:
        with self._lock:
            images = self._known(ids)
            with self._changing():
                for image in images:
                    self._set(replace(image, identity=identity))
            return len(images)

    def remove(self, paths: Iterable[str]) -> int:
        if isinstance(paths, str):
            raise TypeError("remove takes a collection of paths, not one path")
        with self._lock:
            doomed = self._rows_of(list(paths))
            if not doomed:
                return 0
            with self._changing():
                for image in doomed:
                    if self._added.pop(image.id, None) is None:
                        self._removed.add(image.id)
                        self._changed.pop(image.id, None)
            return len(doomed)

    def vectors(self, ids: Sequence[int]) -> np.ndarray:
        with self._lock:
            self._known(ids)
            committed = [id_ for id_ in ids if id_ not in self._added]
            found = {id_: vector for id_, (_, vector) in self._added.items()}
            found.update(self._committed_vectors(committed))
            return np.array([found[int(id_)] for id_ in ids], dtype=np.float32).reshape(len(ids), self._dim)

    def search(
        self, queries: np.ndarray, k: int, *, exclude: Sequence[set[int] | None] | None = None,
        enrolled_only: bool = False,
    ) -> list[list[Hit]]:
        """The ``k`` stored images most alike to each query, best first; see `GalleryStore.search`. The collection
        is asked for ``k`` plus the largest exclusion, and the pending rows are scored here exactly."""
        queries = unit_vectors(queries, self._dim, "queries")
        excluded = check_query_args(k, exclude, len(queries))
        limit = k + max((len(ids) for ids in excluded), default=0)
        with self._lock:
            found = self._search(queries, limit, enrolled_only, with_images=True)
        return [[Hit(image, score) for score, image in row if image.id not in skip][:k]
                for row, skip in zip(found, excluded)]

    def nearest(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        queries = unit_vectors(queries, self._dim, "queries")
        if k < 1:
            raise ValueError(f"k must be at least 1, not {k}")
        scores = np.full((len(queries), k), -np.inf, np.float32)
        ids = np.full((len(queries), k), -1, np.int64)
        with self._lock:
            found = self._search(queries, k, False, with_images=False)
        for row, hits in enumerate(found):
            scores[row, :len(hits)] = [score for score, _ in hits]
            ids[row, :len(hits)] = [id_ for _, id_ in hits]
        return scores, ids

    def identities(self) -> dict[str, int]:
        with self._lock:
            counts: dict[str, int] = {}
            for image in self._enrolled():
                assert image.identity is not None
                counts[image.identity] = counts.get(image.identity, 0) + 1
            return dict(sorted(counts.items()))

    def enrolled_as(self, identity: str) -> list[StoredImage]:
        with self._lock:
            return [image for image in self._enrolled() if image.identity == identity]

    def set_threshold(self, threshold: float | None) -> None:
        """Store τ at once, outside the pending changes: it describes the model, not the images stored."""
        if threshold is not None and not 0.0 <= threshold <= 2.0:
            raise ValueError(f"a distance threshold lies in [0, 2], not {threshold}")
        with self._lock:
            self._writable()
            self._write_properties(threshold="" if threshold is None else repr(float(threshold)))
            self._threshold = None if threshold is None else float(threshold)

    def rebuild(self, index: str) -> None:
        """File the vectors into a fresh index of kind ``index`` at the next commit."""
        check_index_kind(index)
        with self._lock, self._changing():
            self._rebuild_to = index

    def commit(self) -> None:
        """Write the pending changes (see the module's note on what a crash part-way leaves)."""
        with self._lock:
            client = self._open()
            if not self._pending():
                return
            try:
                self._write_properties(next_id=str(self._next_id))
                changed = list(self._changed.values())
                changed_vectors = self._committed_vectors([image.id for image in changed])
                new_rows = [_row(image, vector) for image, vector in self._added.values()]
                changed_rows = [_row(image, changed_vectors[image.id]) for image in changed]
                for write, rows in ((client.insert, new_rows), (client.upsert, changed_rows)):  # insert: new ids
                    for start in range(0, len(rows), WRITE_BATCH):
                        write(self._where.collection, rows[start:start + WRITE_BATCH])
                removed = sorted(self._removed)
                for start in range(0, len(removed), WRITE_BATCH):
                    client.delete(self._where.collection, ids=removed[start:start + WRITE_BATCH])
                if self._rebuild_to is not None:
                    _build_index(client, self._where.collection, self._rebuild_to, len(self), replace_old=True)
                    self._index_kind = self._rebuild_to
                client.flush(self._where.collection)  # seals what was written: searched by its index, not scanned
                self._generation += 1
                self._write_properties(generation=str(self._generation), index=self._index_kind)
            except Exception as error:
                if isinstance(error, LookalikeError):
                    raise
                raise StorageFailed(f"gallery {self.location}: the commit failed ({_reason(error)}); run the "
                                    "command again to finish it") from None
            finally:
                self._discard()
            self._committed_count = self._count()

    def refresh(self) -> bool:
        """Re-read the properties (τ may have been calibrated since); committed rows are always read live, so
        there is nothing to reload. Returns whether another writer committed since."""
        with self._lock:
            if self._pending():
                return False
            before = self._generation
            self._load_properties(_properties(self._open(), self._where.collection))
            if self._generation == before:
                return False
            self._committed_count = self._count()  # every commit moves the generation: no need to count before
            return True

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._discard()
                self._client.close()
                self._client = None

    # --- reading committed rows and overlaying pending ones ---

    def _search(self, queries: np.ndarray, limit: int, enrolled_only: bool,
                with_images: bool) -> list[list[tuple[float, Any]]]:
        """Per query, (score, image or id) best first: the committed rows Milvus finds, minus the rows changed
        here, merged with those rows and the new ones scored exactly."""
        client = self._open()
        touched = sorted(self._changed.keys() | self._removed)
        conditions = (["identity is not null"] if enrolled_only else []) + \
                     ([f"id not in {touched}"] if touched else [])
        output = _RECORD_FIELDS if with_images else []
        found: list[list[tuple[float, Any]]] = [[] for _ in queries]
        if self._committed_count and len(queries):
            for start in range(0, len(queries), QUERY_BATCH):
                batch = queries[start:start + QUERY_BATCH]
                answers = client.search(self._where.collection, data=batch.tolist(), limit=min(limit, PAGE),
                                        filter=" and ".join(conditions), output_fields=output, anns_field="vector",
                                        search_params=self._search_params(limit))
                for row, hits in zip(found[start:start + QUERY_BATCH], answers):
                    row += [(float(hit["distance"]),
                             _stored(hit["entity"], int(hit["id"])) if with_images else int(hit["id"]))
                            for hit in hits]
        pending = [(image, vector) for image, vector in self._added.values()
                   if not enrolled_only or image.identity is not None]
        pending_changed = [image for image in self._changed.values() if not enrolled_only or image.identity is not None]
        changed_vectors = self._committed_vectors([image.id for image in pending_changed])
        pending += [(image, changed_vectors[image.id]) for image in pending_changed]
        if pending:
            scores = queries @ np.stack([vector for _, vector in pending]).T
            for row, row_scores in zip(found, scores.tolist()):
                row += [(score, image if with_images else image.id) for score, (image, _) in zip(row_scores, pending)]
        for row in found:  # as best_first orders hits: by score, then by id
            row.sort(key=lambda hit: (-hit[0], hit[1].id if with_images else hit[1]))
            del row[limit:]
        return found

    def _search_params(self, limit: int) -> dict[str, Any]:
        if self._index_kind == "hnsw":
            return {"metric_type": "IP", "params": {"ef": max(self._effort.ef_search, limit)}}
        if self._index_kind == "ivf":
            return {"metric_type": "IP", "params": {"nprobe": self._effort.nprobe}}
        return {"metric_type": "IP", "params": {}}

    def _pages(self, condition: str = "") -> Iterator[list[StoredImage]]:
        """Every committed row that meets ``condition``, PAGE ids at a time: ids only grow, so ranges of them page
        without a cursor."""
        client = self._open()
        for start in range(1, self._next_id, PAGE):
            rows = client.query(self._where.collection, output_fields=_RECORD_FIELDS, limit=PAGE,
                                filter=" and ".join([f"id >= {start} and id < {start + PAGE}"] +
                                                    ([condition] if condition else [])))
            yield [_stored(row, int(row["id"])) for row in rows]

    def _query(self, condition: str, values: Sequence[Any], output: list[str]) -> list[dict[str, Any]]:
        """The committed rows whose field is in ``values`` (``condition`` holds ``{}`` for the list)."""
        rows: list[dict[str, Any]] = []
        client = self._open()
        for start in range(0, len(values), 1000):
            chunk = list(values[start:start + 1000])
            rows += client.query(self._where.collection, filter=condition.format(_literal(chunk)),
                                 output_fields=output, limit=PAGE)
        return rows

    def _rows_of(self, paths: Sequence[str]) -> list[StoredImage]:
        keys = sorted({_path_key(path) for path in paths})
        committed = [_stored(row, int(row["id"])) for row in self._query("path_key in {}", keys, _RECORD_FIELDS)]
        wanted = set(paths)
        return [image for image in self._overlay(committed) if image.path in wanted]

    def _enrolled(self) -> list[StoredImage]:
        committed = [image for page in self._pages("identity is not null") for image in page]
        return [image for image in self._overlay(committed + list(self._changed.values()))
                if image.identity is not None]

    def _overlay(self, committed: list[StoredImage]) -> list[StoredImage]:
        """``committed`` as this handle sees it: removed rows gone, changed rows changed, new rows added; by id."""
        seen = {image.id: self._changed.get(image.id, image) for image in committed if image.id not in self._removed}
        seen.update((id_, image) for id_, (image, _) in self._added.items())
        return [seen[id_] for id_ in sorted(seen)]

    def _known(self, ids: Sequence[int]) -> list[StoredImage]:
        committed = [int(id_) for id_ in ids if int(id_) not in self._added]
        rows = self._query("id in {}", sorted(set(committed)), _RECORD_FIELDS)
        found = {image.id: image for image in self._overlay([_stored(row, int(row["id"])) for row in rows])}
        missing = [int(id_) for id_ in ids if int(id_) not in found]
        if missing:
            raise KeyError(f"gallery {self.location} has no images with ids {missing}")
        return [found[int(id_)] for id_ in ids]

    def _committed_vectors(self, ids: Sequence[int]) -> dict[int, np.ndarray]:
        rows = self._query("id in {}", sorted(set(int(id_) for id_ in ids)), ["vector"])
        return {int(row["id"]): np.asarray(row["vector"], np.float32) for row in rows}

    def _count(self) -> int:
        rows = self._open().query(self._where.collection, filter="", output_fields=["count(*)"])
        return int(rows[0]["count(*)"])

    # --- changing ---

    def _set(self, image: StoredImage) -> None:
        if image.id in self._added:
            self._added[image.id] = (image, self._added[image.id][1])
        else:
            self._changed[image.id] = image

    def _pending(self) -> bool:
        return bool(self._added or self._changed or self._removed or self._rebuild_to)

    def _discard(self) -> None:
        self._added, self._changed, self._removed, self._rebuild_to = {}, {}, set(), None

    @contextmanager
    def _changing(self) -> Iterator[None]:
        """One change's block: checks the handle may change, and on failure discards every pending change, as a
        folder gallery rolls its transaction back."""
        self._begin()
        try:
            yield
        except BaseException:
            self._discard()
            raise

    def _begin(self) -> None:
        """Before the first pending change: refuse a read-only handle, or one another writer has overtaken."""
        self._writable()
        if self._pending():
            return
        committed = int(_properties(self._open(), self._where.collection).get(_PROPERTY + "generation", "0"))
        if committed != self._generation:
            raise LookalikeError(
                f"gallery {self.location} was changed by another writer since it was opened here; open it again")

    def _writable(self) -> Any:
        client = self._open()
        if self.read_only:
            raise LookalikeError(f"gallery {self.location} is open read-only; open it without read_only to change it")
        return client

    def _open(self) -> Any:
        if self._client is None:
            raise ValueError(f"gallery {self.location} is closed")
        return self._client

    def _write_properties(self, **values: str) -> None:
        self._open().alter_collection_properties(
            self._where.collection, properties={_PROPERTY + key: value for key, value in values.items()})

    def _load_properties(self, properties: dict[str, str]) -> None:
        def value(key: str) -> str:
            return properties.get(_PROPERTY + key, "")

        self._model_id = value("model_id")
        self._index_kind = value("index") or "flat"
        self._effort = SearchEffort(int(value("ef_search") or SearchEffort.ef_search),
                                    int(value("nprobe") or SearchEffort.nprobe))
        self._threshold = float(value("threshold")) if value("threshold") else None
        self._next_id = int(value("next_id") or 1)
        self._generation = int(value("generation") or 0)
        self._dim = int(properties["__dim__"])

    def _side_folder(self, properties: dict[str, str]) -> Path:
        """The side folder: beside a Milvus Lite file, wherever that file has been moved; for a server, the
        folder its properties name."""
        if self._where.lite:
            return self._where.default_folder()
        return Path(properties.get(_PROPERTY + "folder") or self._where.default_folder())


def _schema(dim: int) -> Any:
    from pymilvus import DataType, MilvusClient

    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
    schema.add_field("path", DataType.VARCHAR, max_length=_TEXT_LENGTH)
    schema.add_field("path_key", DataType.VARCHAR, max_length=64)  # what paths are matched by: no quoting needed
    schema.add_field("region", DataType.VARCHAR, max_length=_TEXT_LENGTH)
    schema.add_field("size", DataType.INT64)
    schema.add_field("mtime_ns", DataType.INT64)
    schema.add_field("sha256", DataType.VARCHAR, max_length=64)
    schema.add_field("label", DataType.VARCHAR, max_length=_TEXT_LENGTH, nullable=True)
    schema.add_field("identity", DataType.VARCHAR, max_length=_TEXT_LENGTH, nullable=True)
    return schema


def _build_index(client: Any, collection: str, kind: str, count: int, *, replace_old: bool = False) -> None:
    """Index the vector field as ``kind`` and load the collection for search."""
    params: dict[str, Any] = {}
    if kind == "hnsw":
        params = {"M": HNSW_NEIGHBOURS, "efConstruction": HNSW_BUILD_EFFORT}
    elif kind == "ivf":
        params = {"nlist": max(1, min(65_536, round(4 * count ** 0.5)))}
    if replace_old:
        client.release_collection(collection)
        client.drop_index(collection, "vector")
    index_params = client.prepare_index_params()
    index_params.add_index(field_name="vector", index_type=_INDEX_TYPES[kind], metric_type="IP", params=params)
    client.create_index(collection, index_params, sync=False)  # sync=True polls every half second, even when done
    client.load_collection(collection)


def _properties(client: Any, collection: str) -> dict[str, str]:
    described = client.describe_collection(collection)
    properties = dict(described.get("properties", {}))
    vector = next(field for field in described["fields"] if field["name"] == "vector")
    properties["__dim__"] = str(vector["params"]["dim"])
    return properties


def _path_key(path: str) -> str:
    return hashlib.sha1(path.encode("utf-8", "surrogateescape")).hexdigest()


def _literal(values: Sequence[Any]) -> str:
    """A list for a Milvus filter: ints, and strings this module made (hex digests), which need no escaping."""
    return "[" + ", ".join(f'"{value}"' if isinstance(value, str) else str(int(value)) for value in values) + "]"


def _check_text(record: ImageRecord) -> None:
    """Milvus keeps text as UTF-8; a file name that is not (bytes a folder gallery keeps exactly) is refused."""
    for name in ("path", "region", "label", "identity"):
        value = getattr(record, name)
        try:
            if value is not None:
                value.encode("utf-8")
        except UnicodeEncodeError:
            raise LookalikeError(f"{record.path!r}: its {name} is not valid UTF-8, which a Milvus gallery cannot "
                                 "store; rename the file or use a folder gallery") from None


def _record_values(record: ImageRecord) -> dict[str, Any]:
    return {name: getattr(record, name) for name in _RECORD_FIELDS}


def _row(image: StoredImage, vector: np.ndarray) -> dict[str, Any]:
    return {**_record_values(image), "id": image.id, "vector": vector, "path_key": _path_key(image.path)}


def _stored(row: dict[str, Any], id_: int) -> StoredImage:
    return StoredImage(**{name: row[name] for name in _RECORD_FIELDS}, id=id_)


register_store(StoreKind(
    name="milvus",
    claims=claims,
    exists=MilvusGallery.exists,
    open=lambda location, read_only: MilvusGallery.open(location, read_only=read_only),
    create=lambda location, **settings: MilvusGallery.create(location, **settings),
    delete=MilvusGallery.delete,
))
