"""The FAISS side of the embedded gallery: unit vectors filed under the ids that SQLite assigns.

Each index kind gets a small class that hides what FAISS makes it do differently:

- ``flat`` is exact (``IndexFlatIP``) and the default;
- ``hnsw`` is a graph (``IndexHNSWFlat``): fast on large galleries but unable to delete, so removal rebuilds it;
- ``ivf`` clusters vectors into lists (``IndexIVFFlat``) and has to be trained, which happens on the first vectors
  added; ``rebuild_index`` retrains it once the gallery has grown.

Flat and HNSW sit inside ``IndexIDMap2``, which maps gallery ids to FAISS's positions. IVF does not: ``IndexIDMap2``
renumbers its map on removal while IVF keeps its old positions, so after a removal hits come back under the wrong ids.
IVF stores gallery ids itself instead, with a hash-table direct map so vectors can be reconstructed and removed by id.

Vectors are unit length, so inner product is cosine similarity: every kind uses the inner-product metric.
"""

from __future__ import annotations

import errno
import math
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import faiss
import numpy as np

from lookalike.atomic import write_atomic

INDEX_KINDS = ("flat", "hnsw", "ivf")

_SYSTEM_REASON = re.compile(r"\(([^()]+)\)\s*$")

HNSW_NEIGHBOURS = 32
"""Links per node in the HNSW graph (FAISS's ``M``): the usual balance of recall, memory and build time."""

HNSW_BUILD_EFFORT = 160
"""Candidates weighed when linking a new node into the graph (FAISS's ``efConstruction``, whose default is 40).

A better-linked graph finds the same neighbours with a shorter search. On 1 M clustered 256-d vectors
(``bench/search_speed.py``), recall@10 at efSearch 64 was 0.92 with 40, 0.94 with 80 and 0.99 with 160, for two to
three times the build time of 40; M = 48 with 80 did worse than M = 32 with 160. Index files keep the value they
were built with, and removal, which rebuilds the graph, uses this one.
"""


@dataclass(frozen=True)
class SearchEffort:
    """How hard the approximate kinds look: more means better recall and slower queries; ``flat`` ignores it.

    ``ef_search`` is the HNSW candidate list length (raised to ``k`` when a search asks for more); ``nprobe`` is how
    many IVF lists a query visits.

    The defaults come from ``bench/search_speed.py`` on 1 M clustered 256-d unit vectors (k = 10; see BENCHMARKS.md).
    On a graph built with ``HNSW_BUILD_EFFORT``, recall@10 was 0.97 at efSearch 32, 0.985 at 48 and 0.994 at 64;
    48 keeps a margin above 0.95 while the whole search, lookalike's own work included, stays above 20× the exact
    search's QPS. IVF (4000 lists) found every true neighbour at nprobe 8 and 16; 16 is kept, since real embeddings
    cluster less cleanly than these vectors. Galleries keep the effort they were created with (``gallery.json``).
    """

    ef_search: int = 48
    nprobe: int = 16

    def __post_init__(self) -> None:
        if self.ef_search < 1 or self.nprobe < 1:
            raise ValueError(f"search effort must be positive: {self}")


class VectorIndex(ABC):
    """A FAISS index of one kind; ids are int64 arrays, vectors C-contiguous float32 ``(n, dim)`` arrays.

    Not thread-safe: the gallery serialises access.
    """

    kind: ClassVar[str]

    def __init__(self, index: faiss.Index, effort: SearchEffort) -> None:
        self._index = index
        self.effort = effort

    @classmethod
    @abstractmethod
    def empty(cls, dim: int, effort: SearchEffort) -> VectorIndex: ...

    @property
    def dim(self) -> int:
        return self._index.d

    @property
    def ntotal(self) -> int:
        return self._index.ntotal

    def ids(self) -> np.ndarray:
        """Every stored id; this default reads the ``IndexIDMap2`` that flat and HNSW sit in."""
        return faiss.vector_to_array(self._index.id_map)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        self._index.add_with_ids(vectors, ids)

    def remove(self, ids: np.ndarray) -> None:
        self._index.remove_ids(ids)

    def reconstruct(self, ids: np.ndarray) -> np.ndarray:
        if len(ids) == 0:
            return np.empty((0, self.dim), dtype=np.float32)
        return self._index.reconstruct_batch(ids)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Scores and ids of the ``k`` best matches per query; an id of -1 pads a row that found fewer.

        This default searches the index inside the ``IndexIDMap2`` and maps positions to ids itself. The map's own
        search does that in an OpenMP parallel loop, which on a machine whose cores were busy made every one-query
        search wait about 8 ms for a second thread (``bench/search_speed.py``), to map ten numbers.
        """
        params = self._search_parameters(k)
        if self.ntotal == 0:
            return self._index.search(queries, k, params=params)
        scores, positions = self._index.index.search(queries, k, params=params)
        id_map = self._index.id_map
        ids = faiss.rev_swig_ptr(id_map.data(), id_map.size())  # a view, valid until the next add or remove
        return scores, np.where(positions >= 0, ids[positions], positions)

    def _search_parameters(self, k: int) -> faiss.SearchParameters | None:
        return None

    def save(self, path: Path) -> None:
        """Write the index atomically; a failed write (a full disk, say) raises `WriteFailed` naming ``path``."""
        write_atomic(path, self._write)

    def _write(self, path: Path) -> None:
        try:
            faiss.write_index(self._index, str(path))
        except RuntimeError as error:  # FAISS reports a failed fwrite this way, the system's reason in brackets
            reason = _SYSTEM_REASON.search(str(error))
            raise OSError(errno.EIO, reason.group(1) if reason else str(error), str(path)) from None


class FlatIndex(VectorIndex):
    kind = "flat"

    @classmethod
    def empty(cls, dim: int, effort: SearchEffort) -> FlatIndex:
        return cls(faiss.IndexIDMap2(faiss.IndexFlatIP(dim)), effort)


class HnswIndex(VectorIndex):
    kind = "hnsw"

    @classmethod
    def empty(cls, dim: int, effort: SearchEffort) -> HnswIndex:
        return cls(_graph(dim), effort)

    def remove(self, ids: np.ndarray) -> None:
        """HNSW cannot unlink a node from its graph, so build a new graph from the vectors that stay."""
        kept = np.setdiff1d(self.ids(), ids)
        vectors = self.reconstruct(kept)
        self._index = _graph(self.dim)
        if len(kept):
            self.add(kept, vectors)

    def _search_parameters(self, k: int) -> faiss.SearchParameters:
        return faiss.SearchParametersHNSW(efSearch=max(self.effort.ef_search, k))


class IvfIndex(VectorIndex):
    kind = "ivf"

    @classmethod
    def empty(cls, dim: int, effort: SearchEffort) -> IvfIndex:
        """An untrained placeholder: the number of lists is chosen when the first vectors arrive."""
        return cls(_inverted_lists(dim, 1), effort)

    def ids(self) -> np.ndarray:
        lists = self._index.invlists
        per_list = [
            faiss.rev_swig_ptr(lists.get_ids(number), lists.list_size(number)).copy()
            for number in range(lists.nlist)
            if lists.list_size(number)
        ]
        return np.concatenate(per_list) if per_list else np.empty(0, dtype=np.int64)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if not self._index.is_trained:
            self._index = _inverted_lists(self.dim, ivf_list_count(len(vectors)))
            self._index.train(vectors)
        super().add(ids, vectors)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        return self._index.search(queries, k, params=self._search_parameters(k))  # its lists hold the ids themselves

    def _search_parameters(self, k: int) -> faiss.SearchParameters:
        return faiss.SearchParametersIVF(nprobe=self.effort.nprobe)


def ivf_list_count(n: int) -> int:
    """About 4·√n lists, but never fewer than 39 training vectors per list, the least FAISS's k-means wants."""
    return max(1, min(round(4 * math.sqrt(n)), n // 39))


def _graph(dim: int) -> faiss.IndexIDMap2:
    graph = faiss.IndexHNSWFlat(dim, HNSW_NEIGHBOURS, faiss.METRIC_INNER_PRODUCT)
    graph.hnsw.efConstruction = HNSW_BUILD_EFFORT
    return faiss.IndexIDMap2(graph)


def _inverted_lists(dim: int, nlist: int) -> faiss.IndexIVFFlat:
    index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT)
    index.cp.min_points_per_centroid = 1  # a small first batch trains with what there is, without a warning
    index.set_direct_map_type(faiss.DirectMap.Hashtable)
    return index


_KIND_CLASSES: dict[str, type[VectorIndex]] = {cls.kind: cls for cls in (FlatIndex, HnswIndex, IvfIndex)}


def empty_index(kind: str, dim: int, effort: SearchEffort) -> VectorIndex:
    return _KIND_CLASSES[kind].empty(dim, effort)


def load_index(path: Path, effort: SearchEffort) -> VectorIndex:
    """Read an index file, telling its kind from what is inside rather than from what ``gallery.json`` says.

    Raises ``OSError``/``RuntimeError`` if FAISS cannot read the file, ``ValueError`` if it holds another index type.
    """
    index = faiss.read_index(str(path))
    if isinstance(index, faiss.IndexIVFFlat):
        return IvfIndex(index, effort)
    if isinstance(index, faiss.IndexIDMap2):
        inner = faiss.downcast_index(index.index)
        if isinstance(inner, faiss.IndexHNSWFlat):
            return HnswIndex(index, effort)
        if isinstance(inner, faiss.IndexFlatIP):
            return FlatIndex(index, effort)
    raise ValueError(f"{path.name} holds a FAISS index this gallery does not make: {type(index).__name__}")


def rebuild_index(index: VectorIndex, kind: str) -> VectorIndex:
    """A new index of ``kind`` holding every vector of ``index``; a new IVF index trains on all of them."""
    ids = np.sort(index.ids())
    rebuilt = empty_index(kind, index.dim, index.effort)
    if len(ids):
        rebuilt.add(ids, index.reconstruct(ids))
    return rebuilt
