"""The sparse neighbour graph of a gallery: each stored image's nearest others, found through the store's own vector
index and kept beside the gallery.

Duplicates and clusters are questions about the whole collection. Answering them with an N×N similarity matrix is
what makes other tools run out of memory at tens of thousands of images; a graph of the k nearest neighbours holds
N×k entries and is built with N searches of the index (exact or HNSW, whichever the gallery uses). The graph is saved
with the ids it covers, so a run after `index` searches only for the images added since, and drops the images that
were removed. A changed file is stored under a new id, so it counts as added.

Edges found from a new image to an older one are enough for grouping, which reads the graph as undirected; the older
image's own list is not revised, so its k nearest may miss a newer, closer image. Rebuild with `rebuild=True` to
make every list exact again.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save

from lookalike.atomic import write_bytes_atomic
from lookalike.gallery import GalleryStore, StoredImage

NEIGHBOURS = 16
"""Neighbours kept per image: enough for groups of near-duplicates (a larger group is still found through its
members' lists, and grouping checks every pair on the stored vectors) and for HDBSCAN's density estimate."""

BATCH = 4096
"""Images searched for at once: bounds the memory of one search to BATCH × (k + 1) scores."""

STATE_DIR = "collection"
"""Where a gallery's collection state lives, inside the folder the store names."""

GRAPH_FILE = "neighbours.safetensors"
_FORMAT = "lookalike-neighbours-1"

Progress = tuple[Callable[[int], None], Callable[[int], None]]
"""(on_plan, on_progress) for one long step: told how many items there are, then how many more are done."""


@dataclass(frozen=True)
class NeighbourGraph:
    """``ids[i]``'s nearest other images are ``neighbours[i]`` (id -1 where there are fewer), with cosine
    similarities ``scores[i]``, best first; ``ids`` is sorted."""

    ids: np.ndarray
    neighbours: np.ndarray
    scores: np.ndarray

    @classmethod
    def empty(cls, k: int) -> NeighbourGraph:
        return cls(np.empty(0, np.int64), np.empty((0, k), np.int64), np.empty((0, k), np.float32))

    @property
    def k(self) -> int:
        return self.neighbours.shape[1]

    def __len__(self) -> int:
        return len(self.ids)

    def edges(self, threshold: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every pair of images at least `threshold` alike, once each, as arrays (a, b, score) with a < b."""
        rows = np.repeat(self.ids, self.k)
        cols = self.neighbours.ravel()
        scores = self.scores.ravel()
        keep = (cols >= 0) & (scores >= threshold) & (cols != rows)
        a, b = np.minimum(rows, cols)[keep], np.maximum(rows, cols)[keep]
        pairs, first = np.unique(np.stack([a, b], axis=1), axis=0, return_index=True)
        if not len(pairs):
            return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.float32)
        return pairs[:, 0], pairs[:, 1], scores[keep][first]

    def keeping(self, ids: np.ndarray) -> NeighbourGraph:
        """The graph of those of its images that are among `ids`: the rest are dropped, as rows and as neighbours."""
        rows = np.isin(self.ids, ids)
        neighbours = self.neighbours[rows]
        gone = (neighbours >= 0) & ~np.isin(neighbours, ids)
        return NeighbourGraph(self.ids[rows], np.where(gone, -1, neighbours),
                              np.where(gone, -np.inf, self.scores[rows]).astype(np.float32))

    @classmethod
    def joined(cls, parts: list[NeighbourGraph]) -> NeighbourGraph:
        """One graph of parts that cover different ids, its ids sorted."""
        ids = np.concatenate([part.ids for part in parts])
        order = np.argsort(ids, kind="stable")
        return cls(ids[order], np.concatenate([part.neighbours for part in parts])[order],
                   np.concatenate([part.scores for part in parts])[order])


@dataclass(frozen=True)
class GraphUpdate:
    graph: NeighbourGraph
    images: list[StoredImage]  # every image the gallery holds, ordered by id, as read for this update
    searched: int  # images searched for in this run: those added since the last one (all, the first time)
    dropped: int  # images that were in the saved graph and are no longer stored


def update_neighbours(
    store: GalleryStore,
    *,
    k: int = NEIGHBOURS,
    rebuild: bool = False,
    on_plan: Callable[[int], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> GraphUpdate:
    """Bring the saved neighbour graph of `store` up to date with what it holds now, and save it.

    A saved graph from another model, with another k, or that cannot be read is built again from scratch, as it is
    with `rebuild`: it only ever holds what the gallery can give again.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    file = graph_file(store)
    model_id = store.info.model_id
    saved = None if rebuild else read_graph(file, model_id, k)
    images = store.images()
    stored = np.array([image.id for image in images], dtype=np.int64)  # images() is ordered by id
    old = (saved or NeighbourGraph.empty(k)).keeping(stored)
    dropped = len(saved or ()) - len(old)
    new_ids = np.setdiff1d(stored, old.ids)
    if on_plan:
        on_plan(len(new_ids))
    found = [old]
    for start in range(0, len(new_ids), BATCH):
        batch = new_ids[start:start + BATCH]
        found.append(_search(store, batch, k))
        if on_progress:
            on_progress(len(batch))
    graph = NeighbourGraph.joined(found)
    if saved is None or len(new_ids) or dropped:
        write_graph(file, graph, model_id)
    return GraphUpdate(graph, images, searched=len(new_ids), dropped=dropped)


def _search(store: GalleryStore, ids: np.ndarray, k: int) -> NeighbourGraph:
    """The k nearest others of each of `ids`: the index is asked for one more, and each image's own id is taken out
    wherever it comes (an exact duplicate may outrank it)."""
    scores, found = store.nearest(store.vectors(ids.tolist()), k + 1)
    own = found == ids[:, None]
    order = np.argsort(own, axis=1, kind="stable")  # the own id moves to the end, the others keep their order
    return NeighbourGraph(ids.copy(), np.take_along_axis(found, order, axis=1)[:, :k],
                          np.take_along_axis(scores, order, axis=1)[:, :k].astype(np.float32))


def graph_file(store: GalleryStore) -> Path:
    return store.folder / STATE_DIR / GRAPH_FILE


def write_graph(file: Path, graph: NeighbourGraph, model_id: str) -> None:
    tensors = {"ids": torch.from_numpy(graph.ids), "neighbours": torch.from_numpy(graph.neighbours),
               "scores": torch.from_numpy(graph.scores)}
    write_bytes_atomic(file, save(tensors, metadata={"format": _FORMAT, "model_id": model_id}))


def read_graph(file: Path, model_id: str, k: int) -> NeighbourGraph | None:
    """The saved graph, or None when there is none, it is damaged, or it was made for another model or k."""
    try:
        with safe_open(file, framework="pt") as stored:
            meta = stored.metadata() or {}
            if meta.get("format") != _FORMAT or meta.get("model_id") != model_id:
                return None
            graph = NeighbourGraph(stored.get_tensor("ids").numpy(), stored.get_tensor("neighbours").numpy(),
                                   stored.get_tensor("scores").numpy())
    except (OSError, SafetensorError, json.JSONDecodeError, KeyError):
        return None
    consistent = (graph.ids.ndim == 1 and graph.neighbours.shape == (len(graph.ids), k)
                  and graph.scores.shape == graph.neighbours.shape)
    return graph if consistent else None
