"""Groups of near-duplicates in a gallery: the same photo saved again, resized, trimmed, re-exposed or softened.

Built from the gallery's neighbour graph (never an N×N matrix), grouped without chains, at a level measured for the
gallery's model on copies of its own photos unless a threshold is given (see lookalike.collection.levels). A second,
looser level, "similar", finds other framings of the same scene.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lookalike.collection.grouping import group_without_chains
from lookalike.collection.levels import Levels, gallery_levels
from lookalike.collection.neighbours import Progress, update_neighbours
from lookalike.errors import LookalikeError
from lookalike.gallery import GalleryStore, StoredImage
from lookalike.model import Model

LEVELS = ("duplicate", "similar")


@dataclass(frozen=True)
class DuplicateGroup:
    images: list[StoredImage]  # by id; the first is the one the others are compared with in `scores`
    scores: list[float]  # cosine similarity of each image to the first (1.0 for the first itself)


@dataclass(frozen=True)
class DuplicateReport:
    groups: list[DuplicateGroup]  # largest first
    threshold: float
    level: str  # "duplicate" or "similar" for a measured level, "given" for a threshold that was passed
    levels: Levels | None  # the measured levels, when one was used
    searched: int  # images whose neighbours were searched for in this run: those added since the last run
    images: int  # images in the gallery


def find_duplicates(
    store: GalleryStore,
    model: Model,
    *,
    threshold: float | None = None,
    level: str = "duplicate",
    rebuild: bool = False,
    on_search: Progress | None = None,
    on_measure: Progress | None = None,
) -> DuplicateReport:
    """Groups of images at least `threshold` alike (cosine similarity of their embeddings), or with no threshold at
    the gallery's measured `level` ("duplicate" or "similar").

    Only images added since the last run are searched for (`rebuild` searches for all again). `on_search` and
    `on_measure` are (on_plan, on_progress) pairs for the two long steps: searching for neighbours, and embedding
    the copies that measure the levels (the first time only, for a model).
    """
    if level not in LEVELS:
        raise LookalikeError(f"unknown level {level!r}; choose one of {', '.join(LEVELS)}")
    if threshold is not None and not -1 <= threshold <= 1:
        raise LookalikeError(f"the threshold is a cosine similarity, so between -1 and 1; got {threshold}")
    search_plan, search_progress = on_search or (None, None)
    update = update_neighbours(store, rebuild=rebuild, on_plan=search_plan, on_progress=search_progress)
    levels = None
    if threshold is None:
        measure_plan, measure_progress = on_measure or (None, None)
        levels = gallery_levels(store, model, update.graph, on_plan=measure_plan, on_progress=measure_progress)
        threshold = levels.duplicate if level == "duplicate" else levels.similar
    a, b, scores = update.graph.edges(threshold)
    groups = group_without_chains(a, b, scores, threshold, store.vectors)
    return DuplicateReport(
        groups=[_group(store, ids) for ids in groups], threshold=threshold,
        level=level if levels is not None else "given", levels=levels, searched=update.searched,
        images=len(update.graph),
    )


def _group(store: GalleryStore, ids: list[int]) -> DuplicateGroup:
    vectors = store.vectors(ids)
    scores = np.clip(vectors @ vectors[0], -1.0, 1.0)
    return DuplicateGroup(store.get(ids), [float(score) for score in scores])
