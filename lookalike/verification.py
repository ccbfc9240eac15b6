"""One-shot verification (1:1) and recognition (1:K with "unknown") of image files against enrolled identities,
and calibrating the threshold τ they decide with on a labelled folder.

The threshold comes from the call when given, else from the gallery's calibration; the distance is always returned
beside the decision, so a caller can see how close a call it was.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lookalike.data import BadImage, collect_images
from lookalike.data.sources import labelled_images
from lookalike.embed import EmbedSettings, Embedder
from lookalike.errors import LookalikeError, NotEnrolled, NotReady, NothingReadable
from lookalike.features import embed_labelled
from lookalike.gallery import GalleryStore
from lookalike.match import (
    Calibration,
    Distance,
    Recognition,
    accepts,
    calibrate,
    choose_threshold,
    distance_for,
    identity_distances,
    labelled_pairs,
    recognise,
)
from lookalike.models import Encoder
from lookalike.report.roc import plot_roc
from lookalike.workspace import ModelLike, open_gallery, resolve_model

_NO_THRESHOLD = "no threshold: calibrate the gallery (lookalike calibrate DIR --gallery G) or pass --threshold"


@dataclass(frozen=True)
class Verdict:
    first: Path | str  # the image's path, or the name of an image given as bytes
    second: str  # the other image's path or name, or the claimed identity
    distance: float
    tau: float | None
    same: bool | None  # None when no threshold was given or calibrated
    scorer: str  # "cosine" or "pair head"

    @property
    def similarity(self) -> float:
        """1 − distance: the cosine similarity, or the pair head's probability of "same"."""
        return 1.0 - self.distance


@dataclass(frozen=True)
class Enrolled:
    """The enrolled identities' embeddings as read from a gallery, and the τ to recognise with."""

    vectors: np.ndarray
    identities: list[str]
    tau: float

    def recognise(self, queries: np.ndarray, scorer: Distance, aggregate: str = "nearest") -> list[Recognition]:
        """The enrolled identity of each query embedding, or unknown."""
        return recognise(queries, self.vectors, self.identities, self.tau, distance=scorer, aggregate=aggregate)


@dataclass
class RecognitionReport:
    results: list[tuple[Path, Recognition]] = field(default_factory=list)
    tau: float = 0.0
    scorer: str = "cosine"
    skipped: list[BadImage] = field(default_factory=list)


def verify_images(
    first: str | Path,
    second: str | Path,
    *,
    model: ModelLike = None,
    gallery: str | Path | None = None,
    threshold: float | None = None,
    settings: EmbedSettings = EmbedSettings(),
) -> Verdict:
    """Are two image files the same identity? The model is `model`, or the gallery's; τ is `threshold`, or the
    gallery's calibrated one, or none (then only the distance is reported)."""
    encoder, tau = _model_and_threshold(model, gallery, threshold)
    vectors = _embed_each(encoder, [Path(first), Path(second)], settings)
    return verdict_on(vectors, Path(first), str(second), distance_for(encoder), tau)


def verdict_on(vectors: np.ndarray, first: Path | str, second: str, scorer: Distance, tau: float | None) -> Verdict:
    """The decision on two embeddings (the two rows of `vectors`): their distance, and same or different at τ."""
    d = float(scorer.paired(vectors[:1], vectors[1:])[0])
    return Verdict(first, second, d, tau, None if tau is None else accepts(d, tau), scorer.name)


def verify_claim(
    image: str | Path,
    claimed: str,
    gallery: str | Path,
    *,
    model: ModelLike = None,
    threshold: float | None = None,
    aggregate: str = "nearest",
    settings: EmbedSettings = EmbedSettings(),
) -> Verdict:
    """Is the image the enrolled identity `claimed`?"""
    store, encoder = open_gallery(gallery, model, read_only=True)
    with store:
        tau = decision_threshold(threshold, store)
        vectors, identities = _enrolled(store)
        if claimed not in identities:
            known = ", ".join(sorted(set(identities))) or "nobody yet"
            raise NotEnrolled(f"{claimed!r} is not enrolled in {store.folder} (enrolled: {known})")
    query = _embed_each(encoder, [Path(image)], settings)
    scorer = distance_for(encoder)
    names, distances = identity_distances(query, vectors, identities, distance=scorer, aggregate=aggregate)
    d = float(distances[0, names.index(claimed)])
    return Verdict(Path(image), claimed, d, tau, None if tau is None else accepts(d, tau), scorer.name)


def recognize_images(
    images: Sequence[str | Path],
    gallery: str | Path,
    *,
    model: ModelLike = None,
    threshold: float | None = None,
    aggregate: str = "nearest",
    settings: EmbedSettings = EmbedSettings(),
    on_plan: Callable[[int], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> RecognitionReport:
    """The enrolled identity of each image (files, or folders searched recursively), or unknown. Images that fail to
    decode are listed in the report; when none decodes, `NothingReadable` says why for each."""
    paths = collect_images(images)
    store, encoder = open_gallery(gallery, model, read_only=True)
    with store:
        enrolled = read_enrolled(store, threshold)
    if on_plan:
        on_plan(len(paths))
    embedded = Embedder(encoder, settings).embed_paths(paths, on_progress=on_progress)
    if not embedded.indices:
        raise NothingReadable(embedded.skipped)
    scorer = distance_for(encoder)
    found = enrolled.recognise(embedded.vectors, scorer, aggregate)
    return RecognitionReport([(paths[i], r) for i, r in zip(embedded.indices, found)], enrolled.tau, scorer.name,
                             embedded.skipped)


def read_enrolled(store: GalleryStore, threshold: float | None = None) -> Enrolled:
    """What recognition compares with: every enrolled image's embedding and identity, and τ (`threshold`, or the
    gallery's calibrated one; without either there is no decision to make, which is an error)."""
    tau = decision_threshold(threshold, store)
    if tau is None:
        raise NotReady(_NO_THRESHOLD)
    vectors, identities = _enrolled(store)
    return Enrolled(vectors, identities, tau)


@dataclass
class CalibrationReport:
    calibration: Calibration
    tau: float
    chosen_at: str  # "EER" or "FAR 0.001"
    scorer: str
    images: int
    identities: int
    roc: Path | None
    stored_in: Path | None  # the gallery that now holds τ
    skipped: list[BadImage]


def calibrate_folder(
    folder: str | Path,
    *,
    model: ModelLike = None,
    gallery: str | Path | None = None,
    target_far: float | None = None,
    roc: str | Path | None = None,
    max_impostors: int = 200_000,
    settings: EmbedSettings = EmbedSettings(),
    on_plan: Callable[[int], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> CalibrationReport:
    """Measure verification on a labelled folder (one sub-folder per identity): every genuine pair and up to
    `max_impostors` impostor pairs give the ROC, its AUC, the EER and TAR at FAR 1e-2 and 1e-3. τ is taken at the
    EER, or at `target_far`, and stored in `gallery` when one is given (its model is then the one measured)."""
    images = labelled_images(folder, "test")
    if gallery is None:
        encoder = resolve_model(model)
        if encoder is None:
            raise LookalikeError("name the model to calibrate: --model M, or --gallery G to calibrate its model")
        store = None
    else:
        store, encoder = open_gallery(gallery, model)
    try:
        features = embed_labelled(Embedder(encoder, settings), images, on_plan, on_progress)
        first, second, same = labelled_pairs(features.labels, max_impostors=max_impostors)
        scorer = distance_for(encoder)
        distances = scorer.paired(features.vectors[first], features.vectors[second])
        targets = sorted({1e-2, 1e-3} | ({target_far} if target_far is not None else set()), reverse=True)
        calibration = calibrate(distances, same, far_targets=targets)
        tau = min(choose_threshold(calibration, target_far=target_far), 2.0)
        if store is not None:
            store.set_threshold(tau)
    finally:
        if store is not None:
            store.close()
    if roc is not None:
        plot_roc(calibration, roc, title=f"verification ROC ({scorer.name}, {len(set(features.labels))} identities)")
    return CalibrationReport(calibration, tau, "EER" if target_far is None else f"FAR {target_far:g}", scorer.name,
                             len(features.labels), len(set(features.labels)), Path(roc) if roc else None,
                             store.folder if store is not None else None, features.skipped)


def _model_and_threshold(model: ModelLike, gallery, threshold: float | None) -> tuple[Encoder, float | None]:
    if gallery is None:
        encoder = resolve_model(model)
        if encoder is None:
            raise LookalikeError("name the model to compare with: --model M, or --gallery G to use the gallery's")
        return encoder, threshold
    store, encoder = open_gallery(gallery, model, read_only=True)
    with store:
        return encoder, decision_threshold(threshold, store)


def decision_threshold(explicit: float | None, store: GalleryStore) -> float | None:
    """An explicit threshold always wins over the gallery's calibrated one."""
    return explicit if explicit is not None else store.info.threshold


def _enrolled(store: GalleryStore) -> tuple[np.ndarray, list[str]]:
    enrolled = [(image.id, image.identity) for image in store.images() if image.identity is not None]
    if not enrolled:
        raise NotReady(f"nobody is enrolled in {store.folder}; enrol with: lookalike enroll DIR --gallery "
                             f"{store.folder}")
    return store.vectors([id_ for id_, _ in enrolled]), [identity for _, identity in enrolled]


def _embed_each(encoder: Encoder, paths: list[Path], settings: EmbedSettings) -> np.ndarray:
    """Embeddings of `paths`, all of which must decode: verification of an unreadable image has no answer."""
    embedded = Embedder(encoder, settings).embed_paths(paths)
    if embedded.skipped:
        raise embedded.skipped[0]
    return embedded.vectors
