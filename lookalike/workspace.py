"""A gallery opened together with the model that made its vectors.

A gallery keeps its own copy of that model (in `model/` inside the gallery folder), so it can be searched without
remembering which model built it; a model passed explicitly must be the same one, or the call is refused.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from lookalike.errors import LookalikeError
from lookalike.gallery import Gallery, GalleryInfo
from lookalike.gallery.embedded import MODEL_DIR_NAME
from lookalike.models import Encoder, EncoderConfig, create_encoder, load_model, model_id, save_model
from lookalike.models.storage import CONFIG_FILE

ModelLike = Encoder | str | Path | None


def resolve_model(model: ModelLike) -> Encoder | None:
    """An Encoder as given, or loaded from a model folder; None stays None."""
    if model is None or isinstance(model, Encoder):
        return model
    return load_model(model)


def open_gallery_without_model(folder: str | Path, *, read_only: bool = False) -> Gallery:
    """Open an existing gallery for work that needs no embedding (removal, inspection)."""
    folder = Path(folder)
    if not Gallery.exists(folder):
        raise LookalikeError(f"no gallery at {folder}; build one with: lookalike index DIR --gallery {folder}")
    return Gallery.open(folder, read_only=read_only)


def open_gallery(folder: str | Path, model: ModelLike = None, *, read_only: bool = False) -> tuple[Gallery, Encoder]:
    """Open an existing gallery and the model to embed queries with (its own copy unless `model` is given)."""
    gallery = open_gallery_without_model(folder, read_only=read_only)
    try:
        encoder = resolve_model(model)
        if encoder is None:
            if not gallery.model_dir.is_dir():
                raise LookalikeError(f"{gallery.folder}: the gallery holds no copy of its model; pass --model")
            encoder = load_model(gallery.model_dir)
        gallery.check_model(model_id(encoder))
    except BaseException:
        gallery.close()
        raise
    return gallery, encoder


def open_or_create_gallery(
    folder: str | Path, model: ModelLike = None, *, index: str = "flat"
) -> tuple[Gallery, Encoder]:
    """Open the gallery at `folder`, or create it for `model` (a new random-init ResNet-18 when None), with its copy
    of the model inside from the start."""
    if Gallery.exists(folder):
        return open_gallery(folder, model)
    encoder = resolve_model(model) or create_encoder(EncoderConfig())
    gallery = Gallery.create(folder, model_id=model_id(encoder), dim=encoder.config.embedding_dim, index=index,
                             fill=lambda staging: save_model(encoder, staging / MODEL_DIR_NAME))
    return gallery, encoder


@contextmanager
def writable_gallery(
    folder: str | Path, model: ModelLike = None, *, index: str = "flat"
) -> Iterator[tuple[Gallery, Encoder]]:
    """`open_or_create_gallery` for one block of work, closed after it (commit inside). A gallery that the block
    created and that holds no committed image when the block fails is removed again: a failed first run leaves
    nothing behind, as if it had never started."""
    existed = Path(folder).exists()
    created = not Gallery.exists(folder)
    store, encoder = open_or_create_gallery(folder, model, index=index)
    try:
        with store:
            yield store, encoder
    except BaseException:
        if created and _committed_count(store.folder) == 0:
            shutil.rmtree(store.folder, ignore_errors=True)
            if existed:
                store.folder.mkdir(exist_ok=True)  # the empty folder the user had made
        raise


def _committed_count(folder: Path) -> int:
    try:
        with Gallery.open(folder, read_only=True) as gallery:
            return len(gallery)
    except LookalikeError:
        return -1  # not readable as a gallery any more: leave it for a person to look at


@dataclass(frozen=True)
class GallerySummary:
    """What a person wants to know about a gallery: how many images, which model made them, which τ decides."""

    folder: Path
    info: GalleryInfo
    backbone: str | None  # None when the gallery keeps no copy of its model
    image_size: int | None
    weights: str | None  # how the model's weights came to be: random, imagenet, trained, ...


def summarise_gallery(store: Gallery) -> GallerySummary:
    """The summary of an open gallery, read from its manifest and the config of its model copy."""
    backbone = image_size = weights = None
    config_file = store.model_dir / CONFIG_FILE
    if config_file.is_file():
        meta = json.loads(config_file.read_text(encoding="utf-8"))
        arch, origin = meta.get("architecture", {}), meta.get("origin", {})
        backbone, image_size, weights = arch.get("backbone"), arch.get("image_size"), origin.get("init", "unknown")
    return GallerySummary(store.folder, store.info, backbone, image_size, weights)


def describe_gallery(folder: str | Path) -> dict[str, str]:
    """What a person wants to know about a gallery, as label -> text."""
    with open_gallery_without_model(folder, read_only=True) as gallery:
        summary = summarise_gallery(gallery)
    info = summary.info
    facts = {
        "gallery": str(summary.folder),
        "images": str(info.count),
        "model id": info.model_id,
        "embedding dim": str(info.dim),
        "metric": info.metric,
        "index": info.index,
        "threshold": "not calibrated" if info.threshold is None else f"{info.threshold:.4f}",
    }
    if summary.backbone is not None:
        facts["model"] = f"{summary.backbone} at {summary.image_size} px, weights: {summary.weights}"
    return facts
