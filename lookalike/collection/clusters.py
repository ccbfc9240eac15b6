"""Clusters of look-alikes, without being told how many, and with room for images that belong to none.

HDBSCAN (scikit-learn's) runs over the gallery's neighbour graph as a sparse matrix of cosine distances, so memory
grows with N×k, not N². It finds clusters of any number and size, and calls "noise" (-1) what is in none: in a photo
collection, most photos are of nothing that recurs. With a face model the clusters are the unknown people.

People correct clusters by naming them (see lookalike.collection.naming), and a name is never undone by a re-run:
images enrolled under an identity are that identity's cluster, and only the images no one has named are clustered
again. HDBSCAN still sees the named images, so the density around them shapes the clusters of the rest.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from lookalike.atomic import write_json_atomic
from lookalike.collection.neighbours import STATE_DIR, NeighbourGraph, Progress, update_neighbours
from lookalike.errors import LookalikeError
from lookalike.gallery import GalleryStore, StoredImage
from lookalike.json_file import read_json_object

if TYPE_CHECKING:
    from scipy.sparse import csr_matrix

MIN_CLUSTER = 3
"""The fewest images a cluster holds: a face or a scene seen three times recurs (Immich's default for faces)."""

NOISE = -1

CLUSTERS_FILE = "clusters.json"

_FAR = 3.0
"""The distance bridging parts of the graph that share no edge: beyond any cosine distance (at most 2), so HDBSCAN,
which needs one connected graph, never joins them into a cluster."""

_TOUCHING = 1e-6
"""Added to every distance: a sparse matrix cannot hold a distance of 0 (identical images) as an edge."""


@dataclass(frozen=True)
class Cluster:
    key: str  # the number of an unnamed cluster ("3"), or the identity of a named one
    images: list[StoredImage]  # by id

    @property
    def named(self) -> bool:
        return self.images[0].identity is not None


@dataclass(frozen=True)
class ClusterReport:
    clusters: list[Cluster]  # named ones by name, then unnamed ones, largest first
    noise: list[StoredImage]  # unnamed images in no cluster
    images: int  # in the gallery
    min_size: int


def cluster_labels(graph: NeighbourGraph, *, min_size: int = MIN_CLUSTER) -> np.ndarray:
    """HDBSCAN's label for each of ``graph.ids`` (-1: noise)."""
    import scipy.sparse as sparse  # imported here: every command line would otherwise pay for scikit-learn
    from sklearn.cluster import HDBSCAN

    if min_size < 2:
        raise LookalikeError(f"a cluster needs at least 2 images, got --min-size {min_size}")
    count = len(graph)
    if count <= min_size:
        return np.full(count, NOISE)
    rows = np.repeat(np.arange(count), graph.k)
    columns = np.searchsorted(graph.ids, graph.neighbours.ravel())
    known = (graph.neighbours.ravel() >= 0) & (columns < count)
    known[known] = graph.ids[columns[known]] == graph.neighbours.ravel()[known]
    distances = np.clip(1 - graph.scores.ravel(), 0, 2) + _TOUCHING
    matrix = sparse.csr_matrix((distances[known], (rows[known], columns[known])), shape=(count, count))
    matrix = _bridged(matrix.maximum(matrix.T).tocsr())
    model = HDBSCAN(metric="precomputed", min_cluster_size=min_size, min_samples=min(min_size, graph.k), copy=True)
    return model.fit(matrix).labels_


def _bridged(matrix: csr_matrix) -> csr_matrix:
    """The matrix with each part that shares no edge with the first tied to it at distance `_FAR`."""
    import scipy.sparse as sparse
    from scipy.sparse.csgraph import connected_components

    parts, part_of = connected_components(matrix, directed=False)
    if parts == 1:
        return matrix
    firsts = np.unique(part_of, return_index=True)[1]
    bridge = sparse.csr_matrix((np.full(parts - 1, _FAR), (np.full(parts - 1, firsts[0]), firsts[1:])),
                               shape=matrix.shape)
    return (matrix + bridge + bridge.T).tocsr()


def group_clusters(images: Sequence[StoredImage], labels: dict[int, int], min_size: int) -> ClusterReport:
    """Named images by identity; the rest by their HDBSCAN label (`labels` by image id), each numbered cluster
    still holding at least `min_size` unnamed images, the others noise."""
    named: dict[str, list[StoredImage]] = {}
    unnamed: dict[int, list[StoredImage]] = {}
    noise = []
    for image in images:
        if image.identity is not None:
            named.setdefault(image.identity, []).append(image)
        elif labels.get(image.id, NOISE) != NOISE:
            unnamed.setdefault(labels[image.id], []).append(image)
        else:
            noise.append(image)
    kept = sorted((members for members in unnamed.values() if len(members) >= min_size),
                  key=lambda members: (-len(members), members[0].id))
    noise += [image for members in unnamed.values() if len(members) < min_size for image in members]
    return ClusterReport(
        clusters=[Cluster(name, named[name]) for name in sorted(named)]
        + [Cluster(str(number), members) for number, members in enumerate(kept, start=1)],
        noise=sorted(noise, key=lambda image: image.id), images=len(images), min_size=min_size,
    )


def find_clusters(store: GalleryStore, *, min_size: int = MIN_CLUSTER, rebuild: bool = False,
                  on_search: Progress | None = None) -> ClusterReport:
    """Cluster the gallery's images (see the module's docstring), searching only for the neighbours of images
    added since the last run unless `rebuild`; the numbered clusters are saved, for `name_cluster`."""
    plan, progress = on_search or (None, None)
    update = update_neighbours(store, rebuild=rebuild, on_plan=plan, on_progress=progress)
    labels = dict(zip(update.graph.ids.tolist(), cluster_labels(update.graph, min_size=min_size).tolist()))
    report = group_clusters(update.images, labels, min_size)
    write_json_atomic(Path(store.folder) / STATE_DIR / CLUSTERS_FILE, {
        "model_id": store.info.model_id,
        "clusters": {cluster.key: [image.id for image in cluster.images]
                     for cluster in report.clusters if not cluster.named},
    })
    return report


def saved_cluster(store: GalleryStore, key: str) -> list[int]:
    """The image ids of numbered cluster `key` as the last `find_clusters` saved it."""
    clusters = _saved(store)
    if clusters is None:
        raise LookalikeError(f"{store.location} has not been clustered with its model yet; run `lookalike clusters` "
                             "first")
    if key not in clusters:
        raise LookalikeError(f"the last clustering of {store.location} has no cluster {key!r} (it numbered 1 to "
                             f"{len(clusters)}); run `lookalike clusters` to see them")
    return clusters[key]


def saved_clusters(store: GalleryStore) -> dict[int, str]:
    """Each image id of the last clustering's numbered clusters with its cluster's number; empty when there is none."""
    return {id_: key for key, ids in (_saved(store) or {}).items() for id_ in ids}


def _saved(store: GalleryStore) -> dict[str, list[int]] | None:
    """The numbered clusters of the last `find_clusters`, or None when there was none for this model."""
    file = Path(store.folder) / STATE_DIR / CLUSTERS_FILE
    if not file.is_file():
        return None
    saved = read_json_object(file, missing="", what="last clustering")
    clusters = saved.get("clusters")
    if saved.get("model_id") != store.info.model_id or not isinstance(clusters, dict):
        return None
    try:
        return {str(key): [int(id_) for id_ in ids] for key, ids in clusters.items()}
    except (TypeError, ValueError):
        raise LookalikeError(f"{file} is damaged; run `lookalike clusters` again") from None


COLOUR_BY = ("cluster", "label", "none")


def groups_of(store: GalleryStore, images: Sequence[StoredImage],
              by: str | None = None) -> tuple[str, list[str | None]]:
    """Which group each of `images` is in, for drawing: by "cluster" (the identity of a named image, else its numbered
    cluster in the last clustering), by folder "label", or "none"; with None, clusters when the gallery was clustered
    or has identities, else labels when it has any. Returns the choice made and the groups."""
    clustered = saved_clusters(store)
    if by is None:
        by = ("cluster" if clustered or store.identities() else
              "label" if any(image.label is not None for image in images) else "none")
    if by not in COLOUR_BY:
        raise LookalikeError(f"unknown grouping {by!r}; choose one of {', '.join(COLOUR_BY)}")
    if by == "cluster":
        return by, [image.identity or clustered.get(image.id) for image in images]
    if by == "label":
        return by, [image.label for image in images]
    return by, [None] * len(images)
