"""How alike two images of a gallery must be to count as duplicates, or as similar, chosen for the gallery's own model
on copies of the gallery's own photos.

A fixed number cannot serve every model: cosine similarities from EfficientNet's pooled features (never negative)
sit far higher than those of a trained ResNet or dlib's face encoder. So the levels are measured. A sample of the
gallery's photos is copied the ways `lookalike.collection.variants` knows (saved again as a JPEG, resized, trimmed,
re-exposed, softened; and reframed, for "similar"), the copies are embedded with the gallery's model, and each is
compared with its original's stored vector. Against them stand the originals' nearest other photos in the gallery.

- The duplicate level is the similarity that best separates the edited copies from the nearest other photos
  (the largest recall of copies minus the share of photos whose nearest other photo would pass; Youden's J).
- The similar level keeps 90 % of the reframed copies, and is never above the duplicate level.

The levels are saved beside the gallery for its model and measured again when the model changes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from lookalike.atomic import write_json_atomic
from lookalike.collection.neighbours import STATE_DIR, NeighbourGraph
from lookalike.collection.variants import DUPLICATE_KINDS, SIMILAR_KINDS, make_variant
from lookalike.data import decode_rgb
from lookalike.errors import LookalikeError
from lookalike.gallery import GalleryStore, StoredImage
from lookalike.gallery.stored_file import read_stored_file
from lookalike.json_file import read_json_object
from lookalike.model import Model

SAMPLE = 60
"""Photos copied to measure the levels: 60 × 7 copies take about as long to embed as indexing 420 photos."""

SIMILAR_RECALL = 0.9
"""Share of reframed copies that the similar level keeps."""

LEVELS_FILE = "levels.json"


@dataclass(frozen=True)
class Levels:
    duplicate: float
    similar: float
    model_id: str
    photos: int  # photos the copies were made of
    duplicate_recall: float  # share of edited copies at or above the duplicate level
    false_share: float  # share of those photos whose nearest other photo is at or above the duplicate level
    similar_recall: float  # share of reframed copies at or above the similar level

    def describe(self) -> str:
        return (f"duplicate ≥ {self.duplicate:.4f} (keeps {self.duplicate_recall:.0%} of edited copies of "
                f"{self.photos} of the gallery's photos; {self.false_share:.0%} of those photos have another photo "
                f"that close), similar ≥ {self.similar:.4f} (keeps {self.similar_recall:.0%} of reframed copies)")


def gallery_levels(
    store: GalleryStore,
    model: Model,
    graph: NeighbourGraph,
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
        if levels is not None and levels.model_id == model.id:
            return levels
    levels = measure_levels(store, model, graph, on_plan=on_plan, on_progress=on_progress)
    write_json_atomic(file, asdict(levels))
    return levels


def measure_levels(
    store: GalleryStore,
    model: Model,
    graph: NeighbourGraph,
    *,
    sample: int = SAMPLE,
    seed: int = 0,
    on_plan: Callable[[int], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> Levels:
    rng = np.random.default_rng(seed)
    originals, copies, kinds = _copies(store, _sample(store, sample, rng), rng)
    if not originals:
        raise LookalikeError(f"{store.folder}: none of the gallery's files could be read back to measure what a "
                             "duplicate is; give --threshold")
    if on_plan:
        on_plan(len(copies))
    _, embedded = model.embed_each(copies, on_progress=on_progress)
    stored = store.vectors([image.id for image in originals])
    best = np.full(len(copies), -np.inf)
    for row, position in enumerate(embedded.indices):  # a copy's best region against its original's region
        best[position] = max(best[position], float(embedded.vectors[row] @ stored[position // len(kinds)]))
    per_kind = best.reshape(len(originals), len(kinds))
    edited = per_kind[:, :len(DUPLICATE_KINDS)].ravel()
    reframed = per_kind[:, len(DUPLICATE_KINDS):].ravel()
    nearest_other = _nearest_other(graph, [image.id for image in originals])
    duplicate = separating_level(edited, nearest_other)
    found = reframed[np.isfinite(reframed)]  # a copy in which the model's stage found nothing has no score
    similar = min(duplicate, float(np.quantile(found, 1 - SIMILAR_RECALL))) if len(found) else duplicate
    return Levels(
        duplicate=duplicate, similar=similar, model_id=model.id, photos=len(originals),
        duplicate_recall=float((edited >= duplicate).mean()),
        false_share=float((nearest_other >= duplicate).mean()) if len(nearest_other) else 0.0,
        similar_recall=float((reframed >= similar).mean()),
    )


def _sample(store: GalleryStore, sample: int, rng: np.random.Generator) -> list[StoredImage]:
    images = store.images()
    if not images:
        return []
    return [images[i] for i in sorted(rng.choice(len(images), size=min(sample, len(images)), replace=False))]


def _copies(store: GalleryStore, images: list[StoredImage], rng: np.random.Generator,
            ) -> tuple[list[StoredImage], list[Image.Image], list[str]]:
    """The images whose files still read back, and every kind of copy of each, in the order of `kinds`."""
    kinds = [*DUPLICATE_KINDS, *SIMILAR_KINDS]
    originals, copies = [], []
    for image in images:
        try:
            photo = Image.fromarray(decode_rgb(read_stored_file(image), name=image.path))
        except LookalikeError:
            continue  # moved, changed or unreadable since indexing: another photo serves
        originals.append(image)
        copies += [make_variant(photo, kind, rng) for kind in kinds]
    return originals, copies, kinds


def _nearest_other(graph: NeighbourGraph, ids: list[int]) -> np.ndarray:
    """Each image's similarity to its nearest other image in the gallery, for those the graph holds."""
    scores = graph.scores[np.isin(graph.ids, ids), 0] if graph.k else np.empty(0, np.float32)
    return scores[np.isfinite(scores)]


def separating_level(positives: np.ndarray, negatives: np.ndarray) -> float:
    """The score t (one of the positives) with the largest share of positives ≥ t minus share of negatives ≥ t; of
    equal ones the highest, which lets fewer pairs through."""
    candidates = np.unique(positives[np.isfinite(positives)])
    if not len(candidates):
        raise LookalikeError("no copy of the gallery's photos could be embedded to measure what a duplicate is; give "
                             "--threshold")
    recall = 1 - np.searchsorted(np.sort(positives), candidates, side="left") / len(positives)
    false = (1 - np.searchsorted(np.sort(negatives), candidates, side="left") / len(negatives)
             if len(negatives) else np.zeros(len(candidates)))
    gain = recall - false
    return float(candidates[np.flatnonzero(gain == gain.max())[-1]])
