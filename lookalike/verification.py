"""One-shot verification (1:1) and recognition (1:K with "unknown") of images against enrolled identities, and
calibrating the threshold τ they decide with on a labelled folder.

τ comes from the call when given, else from the gallery's calibration; the distance is always returned beside the
decision, so a caller can see how close a call it was. Recognition asks the store for the enrolled images nearest
each query (its vector search), then decides among their identities with the model's distance.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lookalike.data import BadImage
from lookalike.data.sources import labelled_images
from lookalike.errors import LookalikeError, NotEnrolled, NotReady, NothingReadable
from lookalike.features import embed_labelled
from lookalike.gallery import GalleryStore
from lookalike.images import ImageInput, Item
from lookalike.match import (
    Calibration,
    Distance,
    Recognition,
    accepts,
    calibrate,
    choose_threshold,
    identity_distances,
    labelled_pairs,
    recognise,
)
from lookalike.model import Model
from lookalike.preprocess import WHOLE_IMAGE
from lookalike.report.roc import plot_roc
from lookalike.search import query_name

RECOGNITION_CANDIDATES = 256
"""Enrolled images the store returns per query. Recognition decides among their identities: exactly the answer of
comparing with every enrolled image for cosine "nearest", and for "mean" or a pair head whenever the gallery holds
no more enrolled images than this (beyond it, identities with none of their images this near are not considered)."""

_NO_THRESHOLD = "no threshold: calibrate the gallery (lookalike calibrate DIR --gallery G) or pass --threshold"


@dataclass(frozen=True)
class Verdict:
    first: Path | str  # the image's path, or the name of an image held in memory
    second: Path | str  # the other image's path or name, or the claimed identity
    distance: float
    threshold: float | None
    same: bool | None  # None when no threshold was given or calibrated
    distance_name: str  # the distance measured: "cosine" or "pair head"

    @property
    def similarity(self) -> float:
        """1 − distance: the cosine similarity, or the pair head's probability of "same"."""
        return 1.0 - self.distance


@dataclass
class RecognitionReport:
    results: list[tuple[Path | str, Recognition]] = field(default_factory=list)
    threshold: float = 0.0
    distance_name: str = "cosine"
    skipped: list[BadImage] = field(default_factory=list)
    regions: list[str] = field(default_factory=list)
    """Each result's region within its image ("" for the whole image; a face's "face N at X,Y WxH")."""


def decision_threshold(explicit: float | None, store: GalleryStore | None) -> float | None:
    """An explicit threshold always wins over the gallery's calibrated one."""
    return explicit if explicit is not None or store is None else store.info.threshold


def required_threshold(explicit: float | None, store: GalleryStore) -> float:
    """τ for a decision that cannot be left open (recognition): `NotReady` when there is none."""
    threshold = decision_threshold(explicit, store)
    if threshold is None:
        raise NotReady(_NO_THRESHOLD)
    return threshold


def verify_pair(model: Model, first: ImageInput, second: ImageInput, threshold: float | None) -> Verdict:
    """Are two images the same identity? Both must be readable: a verification with one image has no answer."""
    items, vectors = _embed_one_each(model, [first, second])
    return _verdict(float(model.distance.paired(vectors[:1], vectors[1:])[0]), query_name(items[0], WHOLE_IMAGE),
                    query_name(items[1], WHOLE_IMAGE), threshold, model.distance)


def verify_claim(store: GalleryStore, model: Model, image: ImageInput, claimed: str, threshold: float | None,
                 aggregate: str = "nearest") -> Verdict:
    """Is the image the enrolled identity `claimed`?"""
    enrolled = store.enrolled_as(claimed)
    if not enrolled:
        known = ", ".join(store.identities()) or "nobody yet"
        raise NotEnrolled(f"{claimed!r} is not enrolled in {store.location} (enrolled: {known})")
    items, query = _embed_one_each(model, [image])
    vectors = store.vectors([stored.id for stored in enrolled])
    _, distances = identity_distances(query, vectors, [claimed] * len(enrolled), distance=model.distance,
                                      aggregate=aggregate)
    return _verdict(float(distances[0, 0]), query_name(items[0], WHOLE_IMAGE), claimed, threshold, model.distance)


def recognise_vectors(store: GalleryStore, distance: Distance, queries: np.ndarray, threshold: float,
                      aggregate: str = "nearest") -> list[Recognition]:
    """The enrolled identity of each query embedding, or unknown (see `RECOGNITION_CANDIDATES`)."""
    candidates = store.search(queries, RECOGNITION_CANDIDATES, enrolled_only=True)
    if len(queries) and not candidates[0]:
        raise NotReady(f"nobody is enrolled in {store.location}; enrol with: lookalike enroll DIR --gallery "
                       f"{store.location}")
    results = []
    for query, hits in zip(queries, candidates):
        vectors = store.vectors([hit.image.id for hit in hits])
        identities = [hit.image.identity or "" for hit in hits]
        results += recognise(query[None], vectors, identities, threshold, distance=distance, aggregate=aggregate)
    return results


def recognise_images(
    store: GalleryStore,
    model: Model,
    images: ImageInput | Sequence[ImageInput],
    threshold: float,
    *,
    aggregate: str = "nearest",
    main_region_only: bool = False,
    on_plan: Callable[[int], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> RecognitionReport:
    """The enrolled identity of each image (folders searched recursively), or unknown: of each region the
    preprocessing stage finds (each face), or with `main_region_only` of the first it lists (the largest face).
    Images that fail to decode are listed in the report; when none decodes, `NothingReadable` says why for each."""
    items, embedded = model.embed_each(images, on_plan=on_plan, on_progress=on_progress)
    if not embedded.indices:
        raise NothingReadable(embedded.skipped)
    if main_region_only:
        embedded = embedded.main_regions()
    found = recognise_vectors(store, model.distance, embedded.vectors, threshold, aggregate)
    names = [query_name(items[i], region) for i, region in zip(embedded.indices, embedded.regions)]
    return RecognitionReport(list(zip(names, found)), threshold, model.distance.name, embedded.skipped,
                             list(embedded.regions))


@dataclass
class CalibrationReport:
    calibration: Calibration
    threshold: float
    chosen_at: str  # "EER" or "FAR 0.001"
    distance_name: str
    images: int
    identities: int
    roc: Path | None
    stored_in: str | None  # the gallery that now holds τ
    skipped: list[BadImage]
    names: frozenset[str] = frozenset()  # the identities calibrated on
    overlap: list[str] = field(default_factory=list)
    """Calibration identities that are also enrolled in the gallery: τ is then measured partly on the people it will
    be used on, and transfers less well to anyone new (calibrate on people who are not enrolled)."""


def calibrate_model(
    model: Model,
    folder: str | Path,
    *,
    target_far: float | None = None,
    roc: str | Path | None = None,
    max_impostors: int = 200_000,
    on_plan: Callable[[int], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> CalibrationReport:
    """Measure verification on a labelled folder (one sub-folder per identity): every genuine pair and up to
    `max_impostors` impostor pairs give the ROC, its AUC, the EER and TAR at FAR 1e-2 and 1e-3. τ is taken at the
    EER, or at `target_far`; storing it is the caller's choice (`Session.calibrate` stores it in its gallery)."""
    images = labelled_images(folder, "test")
    features = embed_labelled(model.embedder, images, on_plan, on_progress)
    first, second, same = labelled_pairs(features.labels, max_impostors=max_impostors)
    distances = model.distance.paired(features.vectors[first], features.vectors[second])
    targets = sorted({1e-2, 1e-3} | ({target_far} if target_far is not None else set()), reverse=True)
    calibration = calibrate(distances, same, far_targets=targets)
    threshold = min(choose_threshold(calibration, target_far=target_far), 2.0)
    identities = len(set(features.labels))
    if roc is not None:
        plot_roc(calibration, roc, title=f"verification ROC ({model.distance.name}, {identities} identities)")
    return CalibrationReport(calibration, threshold, "EER" if target_far is None else f"FAR {target_far:g}",
                             model.distance.name, len(features.labels), identities, Path(roc) if roc else None,
                             None, features.skipped, frozenset(features.labels))


def _embed_one_each(model: Model, images: list[ImageInput]) -> tuple[list[Item], np.ndarray]:
    """The items and embeddings of images that must be one readable image each (not a folder), in which the
    preprocessing stage finds one region each."""
    items, embedded = model.embed_each(images)
    if len(items) != len(images):
        raise LookalikeError("verification compares single images; a folder was given")
    if embedded.skipped:
        raise embedded.skipped[0]
    if len(embedded.indices) != len(images):
        counts = Counter(embedded.indices)
        crowded = next(items[i] for i in range(len(items)) if counts[i] > 1)
        raise LookalikeError(f"{query_name(crowded, WHOLE_IMAGE)}: the preprocessing stage found "
                             f"{max(counts.values())} regions; verification compares one region with one")
    return items, embedded.vectors


def _verdict(distance: float, first: Path | str, second: Path | str, threshold: float | None,
             kind: Distance) -> Verdict:
    same = None if threshold is None else accepts(distance, threshold)
    return Verdict(first, second, distance, threshold, same, kind.name)


