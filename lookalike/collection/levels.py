"""How alike two images of a gallery must be to count as duplicates, or as similar, chosen for the gallery's own model
on copies of the gallery's own photos.

A fixed number cannot serve every model: cosine similarities from EfficientNet's pooled features (never negative)
sit far higher than those of a trained ResNet or dlib's face encoder. Nor can the model's similarity alone: a photo
resized to a third or softened loses the detail an ImageNet model looks at, and falls below other photos of the same
flower bed. So two tests are combined, and their levels measured. A sample of the gallery's photos is copied the ways
`lookalike.collection.variants` knows (saved again as a JPEG, resized, trimmed, re-exposed, softened; and reframed,
for "similar"), the copies are embedded with the gallery's model, and each is compared with its original, by the
model and by pixel prints (lookalike.collection.prints). Against them stand the reframed copies: another framing of
the same scene is the hardest case of a photo that is not a duplicate. (The photos' nearest others in the gallery
would not do: where a gallery holds duplicates, they are among them.) A pair is a duplicate when the model finds it
alike enough on its own, or when it is at least as alike to the model as nearly all edited copies (the candidate
level) and its pixel prints agree:

- the candidate level keeps 99 % of the edited copies;
- the model and pixel levels are the pair that keeps the most edited copies while letting through at most 2 % of
  the reframed ones (the highest such levels, of equal ones);
- the similar level keeps 90 % of the reframed copies by the model, and is never above the duplicate level.

How many of the photos' nearest others the duplicate rule lets through is reported beside: real duplicates, or
mistakes.

Regions (faces) and a given `--threshold` use the model alone. The levels are saved beside the gallery for its model
and measured again when the model changes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from lookalike.atomic import write_json_atomic
from lookalike.collection.neighbours import STATE_DIR, NeighbourGraph
from lookalike.collection.prints import PrintCache, pixel_print
from lookalike.collection.variants import DUPLICATE_KINDS, SIMILAR_KINDS, make_variant
from lookalike.data import decode_rgb
from lookalike.errors import LookalikeError
from lookalike.gallery import GalleryStore, StoredImage
from lookalike.gallery.stored_file import read_stored_file
from lookalike.json_file import read_json_object
from lookalike.model import Model

SAMPLE = 60
"""Photos copied to measure the levels: 60 × 7 copies take about as long to embed as indexing 420 photos."""

NEAREST_OTHERS = 3
"""Each sampled photo's nearest other photos, whose share let through is reported."""

CANDIDATE_KEEPS = 0.99
"""Share of edited copies at or above the candidate level: the pairs whose pixel prints are compared."""

FALSE_SHARE = 0.02
"""Share of the reframed copies that the duplicate levels may let through."""

SIMILAR_RECALL = 0.9
"""Share of reframed copies that the similar level keeps."""

ROUNDING = 1e-6
"""Levels sit this far below the copy that set them: the index computes a pair's similarity again, and its rounding
must not split two identical images."""

LEVELS_FILE = "levels.json"
_FORMAT = 2  # levels.json of an earlier format is measured again


@dataclass(frozen=True)
class DuplicateRule:
    """When two images are alike: a cosine similarity of `model` or more, or of `candidate` or more with pixel
    prints whose correlation is `pixel` or more (None: the model alone decides)."""

    model: float
    candidate: float
    pixel: float | None = None

    def alike(self, cosine: np.ndarray, pixels: np.ndarray | None) -> np.ndarray:
        """Which pairs are alike, from their cosine similarities and their prints' correlations (NaN: no print)."""
        cosine = np.asarray(cosine)
        alike = cosine >= self.model
        if self.pixel is not None and pixels is not None:
            alike |= (cosine >= self.candidate) & (np.asarray(pixels) >= self.pixel)
        return alike

    def needs_prints(self, cosine: np.ndarray) -> np.ndarray:
        """Which pairs only their prints can decide."""
        if self.pixel is None:
            return np.zeros(np.shape(cosine), bool)
        return (np.asarray(cosine) >= self.candidate) & (np.asarray(cosine) < self.model)

    @property
    def lowest(self) -> float:
        """The cosine similarity below which no pair is alike."""
        return self.model if self.pixel is None else min(self.model, self.candidate)


@dataclass(frozen=True)
class Levels:
    duplicate: float  # the model level of the duplicate rule
    candidate: float
    pixel: float | None  # None where the photos' prints could not be compared (regions, say)
    similar: float
    model_id: str
    photos: int  # photos the copies were made of
    duplicate_recall: float  # share of edited copies that the duplicate rule keeps
    reframe_share: float  # share of reframed copies that it lets through
    nearest_share: float  # share of the photos' nearest other photos that it lets through
    similar_recall: float  # share of reframed copies at or above the similar level
    format: int = _FORMAT

    def rule(self, level: str) -> DuplicateRule:
        """The rule of "duplicate" or "similar" (the model's looser level, with the same pixel test)."""
        model = self.duplicate if level == "duplicate" else self.similar
        return DuplicateRule(model, self.candidate, self.pixel)

    def describe(self) -> str:
        pixels = ("" if self.pixel is None else f", or ≥ {self.candidate:.4f} with pixel prints correlated ≥ "
                  f"{self.pixel:.3f}")
        return (f"duplicate: similarity ≥ {self.duplicate:.4f}{pixels} (keeps {self.duplicate_recall:.0%} of edited "
                f"copies of {self.photos} of the gallery's photos and {self.reframe_share:.0%} of reframed ones; "
                f"{self.nearest_share:.0%} of those photos have another photo that close); similar: ≥ "
                f"{self.similar:.4f} (keeps {self.similar_recall:.0%} of reframed copies)")


def gallery_levels(
    store: GalleryStore,
    model: Model,
    graph: NeighbourGraph,
    prints: PrintCache,
    *,
    on_plan: Callable[[int], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> Levels:
    """The gallery's saved levels for its model, or new ones measured now (and saved)."""
    file = Path(store.folder) / STATE_DIR / LEVELS_FILE
    if file.is_file():
        try:
            levels = Levels(**read_json_object(file, missing="", what="duplicate levels"))
        except (LookalikeError, TypeError):
            levels = None  # damaged or from another version: it is only measured again
        if levels is not None and levels.model_id == model.id and levels.format == _FORMAT:
            return levels
    levels = measure_levels(store, model, graph, prints, on_plan=on_plan, on_progress=on_progress)
    write_json_atomic(file, asdict(levels))
    return levels


def measure_levels(
    store: GalleryStore,
    model: Model,
    graph: NeighbourGraph,
    prints: PrintCache,
    *,
    sample: int = SAMPLE,
    seed: int = 0,
    on_plan: Callable[[int], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> Levels:
    rng = np.random.default_rng(seed)
    kinds = [*DUPLICATE_KINDS, *SIMILAR_KINDS]
    originals, copies, copy_prints = _copies(store, _sample(store, sample, rng), kinds, rng)
    if not originals:
        raise LookalikeError(f"{store.location}: none of the gallery's files could be read back to measure what a "
                             "duplicate is; give --threshold")
    if on_plan:
        on_plan(len(copies))
    _, embedded = model.embed_each(copies, on_progress=on_progress)
    stored = store.vectors([image.id for image in originals])
    best = np.full(len(copies), -np.inf)
    for row, position in enumerate(embedded.indices):  # a copy's best region against its original's region
        best[position] = max(best[position], float(embedded.vectors[row] @ stored[position // len(kinds)]))
    edited = best.reshape(len(originals), len(kinds))[:, :len(DUPLICATE_KINDS)].ravel()
    reframed = best.reshape(len(originals), len(kinds))[:, len(DUPLICATE_KINDS):].ravel()
    edited_pixels = copy_prints.reshape(len(originals), len(kinds))[:, :len(DUPLICATE_KINDS)].ravel()
    reframed_pixels = copy_prints.reshape(len(originals), len(kinds))[:, len(DUPLICATE_KINDS):].ravel()
    rule, recall, false = choose_rule(edited, edited_pixels, reframed, reframed_pixels)
    nearest_cosine, nearest_pixels = _nearest_others(graph, prints, [image.id for image in originals])
    nearest = rule.alike(nearest_cosine, nearest_pixels).any(axis=1)
    found = reframed[np.isfinite(reframed)]  # a copy in which the model's stage found nothing has no score
    similar = min(rule.model, float(np.quantile(found, 1 - SIMILAR_RECALL))) if len(found) else rule.model
    return Levels(
        duplicate=rule.model, candidate=rule.candidate, pixel=rule.pixel, similar=similar, model_id=model.id,
        photos=len(originals), duplicate_recall=recall, reframe_share=false,
        nearest_share=float(nearest.mean()) if nearest.size else 0.0,
        similar_recall=float((reframed >= similar).mean()),
    )


def choose_rule(
    copies: np.ndarray, copy_pixels: np.ndarray, others: np.ndarray, other_pixels: np.ndarray,
) -> tuple[DuplicateRule, float, float]:
    """The rule that keeps the most copies (their cosine similarities and prints' correlations to their originals)
    while letting through at most FALSE_SHARE of the others (pairs that must stay apart). Levels are tried at the
    copies' percentiles; of the rules that keep as many, the middle one (the median model level, then the median pixel
    level at it), so that neither side of the line is grazed. Returns it with the share of copies it keeps and of
    others it lets through."""
    finite = copies[np.isfinite(copies)]
    if not len(finite):
        raise LookalikeError("no copy of the gallery's photos could be embedded to measure what a duplicate is; give "
                             "--threshold")
    candidate = float(np.quantile(finite, 1 - CANDIDATE_KEEPS, method="lower"))
    model_levels = np.append(np.unique(np.quantile(finite, np.linspace(0, 1, 101), method="lower")), np.inf)
    printed = copy_pixels[np.isfinite(copy_pixels)]
    pixel_levels = (np.append(np.unique(np.quantile(printed, np.linspace(0, 1, 101), method="lower")), np.inf)
                    if len(printed) else np.array([np.inf]))
    allowed: list[tuple[float, float, float, float]] = []  # (recall, model, pixel, false) within the cap
    for model in model_levels:
        for pixel in pixel_levels:
            rule = DuplicateRule(float(model), candidate, float(pixel))
            false = float(rule.alike(others, other_pixels).mean()) if len(others) else 0.0
            if false <= FALSE_SHARE:
                allowed.append((float(rule.alike(copies, copy_pixels).mean()), float(model), float(pixel), false))
    most = max(recall for recall, *_ in allowed)  # infinite levels keep nothing and let nothing through
    best = [choice for choice in allowed if choice[0] == most]
    models = sorted({model for _, model, _, _ in best})
    model = models[(len(models) - 1) // 2]
    at_model = [choice for choice in best if choice[1] == model]
    recall, _, pixel, false = at_model[(len(at_model) - 1) // 2]  # pixel levels were tried in rising order
    if not np.isfinite(model):  # the prints decide every pair below the most alike copy
        model = float(finite.max()) + ROUNDING if len(printed) else float(finite.max())
    rule = DuplicateRule(model - ROUNDING, candidate - ROUNDING, pixel - ROUNDING if np.isfinite(pixel) else None)
    return rule, recall, false


def _sample(store: GalleryStore, sample: int, rng: np.random.Generator) -> list[StoredImage]:
    images = store.images()
    if not images:
        return []
    return [images[i] for i in sorted(rng.choice(len(images), size=min(sample, len(images)), replace=False))]


def _copies(store: GalleryStore, images: list[StoredImage], kinds: list[str], rng: np.random.Generator,
            ) -> tuple[list[StoredImage], list[Image.Image], np.ndarray]:
    """The images whose files still read back, and every kind of copy of each, in the order of `kinds`, with each
    copy's print correlation to its original (NaN for a region: prints compare whole photos)."""
    originals, copies, correlations = [], [], []
    for image in images:
        try:
            photo = Image.fromarray(decode_rgb(read_stored_file(image), name=image.path))
        except LookalikeError:
            continue  # moved, changed or unreadable since indexing: another photo serves
        originals.append(image)
        made = [make_variant(photo, kind, rng) for kind in kinds]
        copies += made
        original_print = pixel_print(photo)
        correlations += [float("nan") if image.region else float(pixel_print(copy) @ original_print) for copy in made]
    return originals, copies, np.array(correlations, dtype=np.float64)


def _nearest_others(graph: NeighbourGraph, prints: PrintCache, ids: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """The cosine similarities and print correlations of these images with their nearest other images, one row per
    image (-inf and NaN where it has fewer)."""
    rows = np.isin(graph.ids, ids)
    near = min(NEAREST_OTHERS, graph.k)
    if not near or not rows.any():
        return np.empty((0, 1)), np.empty((0, 1))
    firsts = np.repeat(graph.ids[rows], near)
    seconds, cosine = graph.neighbours[rows, :near].ravel(), graph.scores[rows, :near].ravel()
    known = seconds >= 0
    pixels = np.full(len(seconds), np.nan)
    pixels[known] = np.einsum("ij,ij->i", prints.prints(firsts[known].tolist()), prints.prints(seconds[known].tolist()))
    return cosine.astype(np.float64).reshape(-1, near), pixels.reshape(-1, near)
