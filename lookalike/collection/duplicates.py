"""Groups of near-duplicates in a gallery: the same photo saved again, resized, trimmed, re-exposed or softened.

Built from the gallery's neighbour graph (never an N×N matrix), grouped without chains, by a rule measured for the
gallery's model on copies of its own photos: alike to the model, or nearly as alike with matching pixel prints (see
lookalike.collection.levels). A given threshold is a cosine similarity that the model alone is held to. A second,
looser level, "similar", finds other framings of the same scene.

Groups are held together by duplicate pairs, and no two members of a group may be less alike than the similar level
(with a given threshold, than the threshold): a row of small edits cannot drift from one scene into another, while
two copies of one photo edited in different ways (one trimmed, one shrunk) still share its group.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lookalike.collection.grouping import group_without_chains
from lookalike.collection.levels import DuplicateRule, Levels, gallery_levels
from lookalike.collection.neighbours import Progress, update_neighbours
from lookalike.collection.prints import PrintCache
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
    rule: DuplicateRule
    level: str  # "duplicate" or "similar" for a measured level, "given" for a threshold that was passed
    levels: Levels | None  # the measured levels, when one was used
    searched: int  # images whose neighbours were searched for in this run: those added since the last run
    images: int  # images in the gallery

    @property
    def threshold(self) -> float:
        """The cosine similarity at or above which the model alone groups images."""
        return self.rule.model


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
    prints = PrintCache(store)
    levels = None
    if threshold is None:
        measure_plan, measure_progress = on_measure or (None, None)
        levels = gallery_levels(store, model, update.graph, prints, on_plan=measure_plan,
                                on_progress=measure_progress)
        rule, bound = levels.rule(level), levels.rule("similar")
    else:
        rule = bound = DuplicateRule(threshold, threshold)
    a, b, scores = update.graph.edges(rule.lowest)
    pixels = _pair_pixels(prints, a, b, rule.needs_prints(scores))
    keep = rule.alike(scores, pixels)

    def all_within_bound(left: list[int], right: list[int]) -> bool:
        cosine = store.vectors(left) @ store.vectors(right).T
        correlation = np.full(cosine.shape, np.nan)
        if bound.needs_prints(cosine).any():
            correlation = prints.prints(left) @ prints.prints(right).T
        return bool(bound.alike(cosine, correlation).all())

    groups = group_without_chains(a[keep], b[keep], scores[keep], all_within_bound)
    prints.save(np.array([image.id for image in update.images], dtype=np.int64))
    return DuplicateReport(
        groups=[_group(store, ids) for ids in groups], rule=rule,
        level=level if levels is not None else "given", levels=levels, searched=update.searched,
        images=len(update.graph),
    )


def _pair_pixels(prints: PrintCache, a: np.ndarray, b: np.ndarray, needed: np.ndarray) -> np.ndarray:
    """The print correlation of each pair (a[i], b[i]) where `needed`, NaN elsewhere."""
    pixels = np.full(len(a), np.nan)
    if needed.any():
        pixels[needed] = np.einsum("ij,ij->i", prints.prints(a[needed].tolist()), prints.prints(b[needed].tolist()))
    return pixels


def _group(store: GalleryStore, ids: list[int]) -> DuplicateGroup:
    vectors = store.vectors(ids)
    scores = np.clip(vectors @ vectors[0], -1.0, 1.0)
    return DuplicateGroup(store.get(ids), [float(score) for score in scores])
