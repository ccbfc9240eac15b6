"""The contract every gallery backend keeps, so matching, the CLI and the server never care where vectors live.

Opening and creating are left out on purpose: they take backend-specific arguments (a folder, a server address), and
each kind of store registers how it does them (see lookalike.gallery.registry). Everything after that goes through
this protocol, which speaks of images, vectors and identities, never of how an index is built.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Protocol, runtime_checkable

import numpy as np

from lookalike.gallery.records import GalleryInfo, Hit, ImageRecord, StoredImage


@runtime_checkable
class GalleryStore(Protocol):
    """Unit vectors from exactly one model, with the metadata of the images they came from.

    Changes are transactional: nothing is visible to other openers of the gallery, or survives ``close()``, until
    ``commit()``.
    """

    location: str
    """Where the gallery is, as the user names it (a folder, ``photos.db``, ``http://host:19530``): for messages."""

    folder: Path
    """A folder of this machine's for the files kept beside the vectors: the model's copy, collection state."""

    @property
    def info(self) -> GalleryInfo: ...

    @property
    def model_dir(self) -> Path:
        """Where the model that made the vectors is kept, so a query can be embedded the same way."""
        ...

    def __len__(self) -> int: ...

    def __enter__(self) -> GalleryStore: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Close without committing: leaving the block never saves changes by accident."""
        ...

    def check_model(self, model_id: str) -> None:
        """Raise ``ModelMismatchError`` unless ``model_id`` is the model that made the stored vectors."""
        ...

    def add(self, records: Sequence[ImageRecord], vectors: np.ndarray, *, model_id: str) -> list[int]:
        """Store one unit vector per record and return their ids. The records of a file replace every region
        stored for it: a changed file is embedded again as a whole."""
        ...

    def find(self, path: str, region: str | None = None) -> StoredImage | None:
        """The stored ``region`` of the file at ``path``, or with None, its first stored region."""
        ...

    def images(self) -> list[StoredImage]:
        """Every stored image, ordered by id."""
        ...

    def get(self, ids: Sequence[int]) -> list[StoredImage]:
        """The images with these ids, in the same order; ``KeyError`` for an unknown id."""
        ...

    def update_mtime(self, path: str, mtime_ns: int) -> None:
        """Record that a file was touched but its content, hence its regions' vectors, is unchanged."""
        ...

    def rename_identity(self, old: str, new: str) -> int:
        """Re-label the images enrolled as ``old`` with ``new``; returns how many there were."""
        ...

    def set_identity(self, ids: Sequence[int], identity: str | None) -> int:
        """Enrol the stored images ``ids`` as ``identity``, or as no one with None, keeping their vectors and ids;
        returns how many there were. ``KeyError`` for an unknown id."""
        ...

    def remove(self, paths: Iterable[str]) -> int:
        """Forget every region of these files and return how many were stored; unknown paths are ignored."""
        ...

    def vectors(self, ids: Sequence[int]) -> np.ndarray:
        """The stored vectors of these ids as a float32 ``(len(ids), dim)`` array."""
        ...

    def search(
        self, queries: np.ndarray, k: int, *, exclude: Sequence[set[int] | None] | None = None,
        enrolled_only: bool = False,
    ) -> list[list[Hit]]:
        """The ``k`` stored images most alike to each query, best first (equal scores by id: `best_first`), leaving
        out ``exclude[i]`` for query i; with ``enrolled_only``, among the images enrolled under an identity only
        (recognition's question)."""
        ...

    def nearest(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` stored vectors nearest each query as two ``(len(queries), k)`` arrays, cosine similarities and
        ids, best first, with id -1 where there are fewer: a whole collection's neighbours at once, without the
        metadata that ``search`` reads for every hit."""
        ...

    def identities(self) -> dict[str, int]:
        """Each enrolled identity with its number of images, sorted by name."""
        ...

    def enrolled_as(self, identity: str) -> list[StoredImage]:
        """The images enrolled as ``identity``, ordered by id."""
        ...

    def set_threshold(self, threshold: float | None) -> None:
        """Store the calibrated decision threshold (a distance in [0, 2]), or forget it with ``None``."""
        ...

    def rebuild(self, index: str) -> None:
        """Re-file every stored vector into a fresh index of the given kind."""
        ...

    def commit(self) -> None: ...

    def refresh(self) -> bool:
        """Catch up with changes other writers committed since opening; returns whether the vectors were reloaded."""
        ...

    def close(self) -> None:
        """Release the gallery, discarding uncommitted changes."""
        ...
