"""``gallery.sqlite``: one row per stored vector, and the generation of the index file that matches the rows.

The row id is the vector's FAISS id. ``AUTOINCREMENT`` makes SQLite never hand out an id twice, so a reader still
searching an older index file can miss a removed image but never mistake it for a newer one filed under its id.

Journal mode: WAL from a writer's first change until it closes, so readers (a web server) keep reading while it
works; rollback journal at rest. A read-only connection never writes, but in WAL mode SQLite must create ``-wal`` and
``-shm`` files beside the database; at rest there are none, so opening the gallery read-only leaves the folder exactly
as it was, and works on read-only media too. Opening for writing and closing without a change leaves it as it was too.
A writer that closes moves its changes out of the WAL into the database file even while a reader keeps the file open,
so ``gallery.sqlite`` holds every committed row whenever no writer is at work. Still, a gallery is its whole folder:
copy the folder, never one file of it.

Not thread-safe on its own: the gallery holds one lock around every use.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from lookalike.gallery.records import ImageRecord, StoredImage

CATALOG_NAME = "gallery.sqlite"

_IMAGES = """
CREATE TABLE {name} (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    path TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    label TEXT,
    identity TEXT,
    region TEXT NOT NULL DEFAULT '',
    UNIQUE (path, region)
);
"""

_SCHEMA = _IMAGES.format(name="images") + """
CREATE TABLE state (key TEXT PRIMARY KEY, value NOT NULL);
INSERT INTO state (key, value) VALUES ('generation', 0);
"""

_COLUMNS = "id, path, size, mtime_ns, sha256, label, identity, region"
_COLUMNS_BEFORE_REGIONS = "id, path, size, mtime_ns, sha256, label, identity, '' AS region"
"""What a catalog written before regions existed gives for the same query (its first writer adds the column)."""

_ADD_REGIONS = _IMAGES.format(name="images_with_regions") + """
INSERT INTO images_with_regions (id, path, size, mtime_ns, sha256, label, identity)
    SELECT id, path, size, mtime_ns, sha256, label, identity FROM images;
DROP TABLE images;
ALTER TABLE images_with_regions RENAME TO images;
"""
"""Rebuild the images table with a region column keyed with the path (SQLite cannot drop the old UNIQUE (path)).
Ids are copied as they are; AUTOINCREMENT's counter is carried over separately, so no id is ever handed out twice."""


def _to_sql(name: str | None) -> str | bytes | None:
    """A path, label or identity as SQLite keeps it: text when it is valid UTF-8, else the file system's bytes (a
    BLOB). SQLite text must be UTF-8 and a file name need not be; Python holds such a name with surrogates for the
    bytes that are not, and ``os.fsencode`` gives the bytes back exactly."""
    if name is None:
        return None
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return os.fsencode(name)
    return name


def _from_sql(value: str | bytes | None) -> str | None:
    return os.fsdecode(value) if isinstance(value, bytes) else value


def _decoded(row: tuple) -> tuple:
    """A row whose path or label was stored as bytes, with them turned back into Python's names."""
    id_, path, size, mtime_ns, sha256, label, identity, region = row
    return id_, _from_sql(path), size, mtime_ns, sha256, _from_sql(label), _from_sql(identity), region


def _stored(row: tuple) -> StoredImage:
    id_, path, size, mtime_ns, sha256, label, identity, region = _decoded(row)
    return StoredImage(path, size, mtime_ns, sha256, label, identity, region, id=id_)


def _stored_quickly(row: tuple) -> StoredImage:
    """What ``_stored`` makes, about three times faster, at the price of about 64 more bytes per object.

    For search hits, which are many and short-lived: ``bench/search_speed.py`` found building them a large part of
    what a search adds to FAISS's time. A frozen dataclass's ``__init__`` sets each field through
    ``object.__setattr__``; this fills the instance dictionary directly. ``tests/gallery/test_search_path.py``
    checks the two agree; it holds while ``StoredImage`` is a frozen dataclass without ``__post_init__`` or
    ``__slots__``.
    """
    if row[1].__class__ is bytes or row[5].__class__ is bytes:  # rare: a name that is not valid UTF-8
        row = _decoded(row)
    image = _new_object(StoredImage)
    fields = image.__dict__
    fields["id"], fields["path"], fields["size"], fields["mtime_ns"], fields["sha256"], fields["label"], \
        fields["identity"], fields["region"] = row
    return image


_new_object = object.__new__


def _json_list(values: Iterable[object]) -> str:
    """One SQL parameter carrying many values, read back with ``json_each``: no limit on how many."""
    return json.dumps(list(values))


class Catalog:
    """An open connection to ``gallery.sqlite``; transactions are explicit, begun and ended by the gallery."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._db = connection
        self._switched_to_wal = False
        self._columns = self._current_columns()

    @classmethod
    def create(cls, path: Path) -> None:
        """Write an empty catalog whose index generation is 0."""
        catalog = cls._connect(path, mode="rwc")
        try:
            catalog._db.executescript(f"BEGIN; {_SCHEMA} COMMIT;")
        finally:
            catalog.close()

    @classmethod
    def open(cls, path: Path, *, read_only: bool) -> Catalog:
        """Open an existing catalog; raises ``sqlite3.Error`` if it is missing."""
        return cls._connect(path, mode="ro" if read_only else "rw")

    @classmethod
    def _connect(cls, path: Path, *, mode: str) -> Catalog:
        # check_same_thread=False: the gallery may be searched from a server's worker threads; its lock serialises
        # every use of this connection. isolation_level=None: transactions are begun and ended here, explicitly.
        uri = f"{path.resolve().as_uri()}?mode={mode}"
        return cls(sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False))

    def _current_columns(self) -> str:
        """What a query selects: the region column, or '' in its place in a catalog written before regions."""
        names = {row[1] for row in self._db.execute("PRAGMA table_info(images)")}
        return _COLUMNS if "region" in names else _COLUMNS_BEFORE_REGIONS

    def close(self) -> None:
        """Roll back anything uncommitted; after writing, move every committed change from the WAL into
        ``gallery.sqlite`` itself, and return to rollback-journal mode if no one else has the file open.

        The checkpoint matters when a reader (a web server) keeps the file open: the switch back cannot happen then,
        and a read-only connection never checkpoints, so committed rows would otherwise live on only in the
        ``-wal`` file after everyone has gone."""
        if self._db.in_transaction:
            self._db.execute("ROLLBACK")
        if self._switched_to_wal:
            self._db.execute("PRAGMA busy_timeout = 0")
            try:
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
                self._db.execute("PRAGMA journal_mode = DELETE")
            except sqlite3.OperationalError:
                pass  # another connection is open: it keeps the WAL files, and its last writer switches back
        self._db.close()

    def snapshot(self) -> tuple[int, np.ndarray]:
        """The committed index generation and the ids of the rows that go with it, read in one transaction."""
        self._columns = self._current_columns()  # a writer may have added the region column
        self._db.execute("BEGIN")
        try:
            generation = self._generation()
            ids = np.array([row[0] for row in self._db.execute("SELECT id FROM images ORDER BY id")], dtype=np.int64)
        finally:
            if self._db.in_transaction:
                self._db.execute("COMMIT")
        return generation, ids

    def generation(self) -> int:
        """The committed index generation: one small query, so a long-lived reader can ask on every request."""
        return self._generation()

    @property
    def in_transaction(self) -> bool:
        return self._db.in_transaction

    def begin(self) -> int:
        """Start a write transaction, taking SQLite's writer lock, and return the generation committed so far."""
        if not self._switched_to_wal:
            self._db.execute("PRAGMA journal_mode = WAL")
            self._switched_to_wal = True
        self._db.execute("BEGIN IMMEDIATE")
        if self._columns is not _COLUMNS:
            self._add_regions()
        return self._generation()

    def _add_regions(self) -> None:
        """Give a catalog written before regions existed its region column, inside the writer's transaction: the
        change is committed with the writer's first commit, or not at all."""
        (sequence,) = self._db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'images'").fetchone() or (0,)
        for statement in _ADD_REGIONS.split(";"):
            if statement.strip():
                self._db.execute(statement)
        self._db.execute("UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = 'images'", (sequence,))
        if not self._db.execute("SELECT 1 FROM sqlite_sequence WHERE name = 'images'").fetchone():
            self._db.execute("INSERT INTO sqlite_sequence (name, seq) VALUES ('images', ?)", (sequence,))
        self._columns = _COLUMNS

    def commit(self, generation: int) -> None:
        """Make the changes, and the index generation that holds their vectors, visible together."""
        self._db.execute("UPDATE state SET value = ? WHERE key = 'generation'", (generation,))
        self._db.execute("COMMIT")

    def rollback(self) -> None:
        self._db.execute("ROLLBACK")
        self._columns = self._current_columns()  # a rolled-back migration takes the column away again

    def _generation(self) -> int:
        (value,) = self._db.execute("SELECT value FROM state WHERE key = 'generation'").fetchone()
        return int(value)

    def insert(self, records: Sequence[ImageRecord]) -> list[int]:
        ids = []
        for record in records:
            cursor = self._db.execute(
                "INSERT INTO images (path, size, mtime_ns, sha256, label, identity, region) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (_to_sql(record.path), record.size, record.mtime_ns, record.sha256, _to_sql(record.label),
                 _to_sql(record.identity), record.region),
            )
            ids.append(int(cursor.lastrowid or 0))  # an INSERT always sets it
        return ids

    def delete(self, ids: Iterable[int]) -> None:
        self._db.execute("DELETE FROM images WHERE id IN (SELECT value FROM json_each(?))", (_json_list(ids),))

    def update_mtime(self, path: str, mtime_ns: int) -> None:
        self._db.execute("UPDATE images SET mtime_ns = ? WHERE path = ?", (mtime_ns, _to_sql(path)))

    def rename_identity(self, old: str, new: str) -> int:
        return self._db.execute("UPDATE images SET identity = ? WHERE identity = ?",
                                (_to_sql(new), _to_sql(old))).rowcount

    def set_identity(self, ids: Sequence[int], identity: str | None) -> int:
        query = "UPDATE images SET identity = ? WHERE id IN (SELECT value FROM json_each(?))"
        return self._db.execute(query, (None if identity is None else _to_sql(identity),
                                        _json_list([int(id_) for id_ in ids]))).rowcount

    def ids_of(self, paths: Iterable[str]) -> list[int]:
        """The ids of those paths that are stored: text paths in one query, the rare byte paths one by one."""
        keys = [_to_sql(path) for path in paths]
        texts = [key for key in keys if isinstance(key, str)]
        query = "SELECT id FROM images WHERE path IN (SELECT value FROM json_each(?))"
        ids = [row[0] for row in self._db.execute(query, (_json_list(texts),))]
        for key in keys:
            if isinstance(key, bytes):
                ids += [row[0] for row in self._db.execute("SELECT id FROM images WHERE path = ?", (key,))]
        return sorted(ids)

    def find(self, path: str, region: str | None = None) -> StoredImage | None:
        """The stored `region` of the file at `path`, or with None, its first stored region."""
        if region is None:
            row = self._db.execute(f"SELECT {self._columns} FROM images WHERE path = ? ORDER BY id LIMIT 1",
                                   (_to_sql(path),)).fetchone()
        else:
            row = self._db.execute(f"SELECT {self._columns} FROM images WHERE path = ? AND region = ?",
                                   (_to_sql(path), region)).fetchone()
        return None if row is None else _stored(row)

    def by_id(self, ids: Iterable[int]) -> dict[int, StoredImage]:
        """The stored images among ``ids``, keyed by id; unknown ids are simply absent."""
        query = f"SELECT {self._columns} FROM images WHERE id IN (SELECT value FROM json_each(?))"
        values = ids.tolist() if isinstance(ids, np.ndarray) else [int(id_) for id_ in ids]  # JSON needs Python ints
        return {row[0]: _stored_quickly(row) for row in self._db.execute(query, (_json_list(values),))}

    def identities(self) -> dict[str, int]:
        """Each enrolled identity with its number of images, sorted by name."""
        query = "SELECT identity, COUNT(*) FROM images WHERE identity IS NOT NULL GROUP BY identity"
        counts = {_from_sql(name) or "": count for name, count in self._db.execute(query)}  # never NULL here
        return {name: counts[name] for name in sorted(counts)}

    def enrolled(self, identity: str | None = None) -> list[StoredImage]:
        """The images enrolled as `identity`, or every enrolled image, ordered by id."""
        if identity is None:
            rows = self._db.execute(f"SELECT {self._columns} FROM images WHERE identity IS NOT NULL ORDER BY id")
        else:
            rows = self._db.execute(f"SELECT {self._columns} FROM images WHERE identity = ? ORDER BY id",
                                    (_to_sql(identity),))
        return [_stored(row) for row in rows]

    def data_version(self) -> int:
        """A number that changes whenever another connection commits (SQLite's ``data_version``)."""
        return int(self._db.execute("PRAGMA data_version").fetchone()[0])

    def all(self) -> list[StoredImage]:
        return [_stored(row) for row in self._db.execute(f"SELECT {self._columns} FROM images ORDER BY id")]
