"""A gallery opened together with the model that made its vectors.

A gallery keeps its own copy of that model (in `model/` inside the gallery folder), so it can be searched without
remembering which model built it; a model passed explicitly must be the same one, or the call is refused.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeAlias

from lookalike.embed import EmbedSettings
from lookalike.errors import LookalikeError
from lookalike.gallery import GalleryInfo, GalleryStore, store_kind_for
from lookalike.gallery.embedded import MODEL_DIR_NAME
from lookalike.model import Model, load_model
from lookalike.models import Encoder
from lookalike.models.storage import CONFIG_FILE

ModelLike: TypeAlias = Model | Encoder | str | Path | None
"""A model as callers may name it: loaded, a bare encoder, a model folder, or None for the gallery's own copy."""


def as_model(model: ModelLike, settings: EmbedSettings = EmbedSettings()) -> Model | None:
    """`model` as a Model (loaded from its folder if it is one); None stays None."""
    if model is None or isinstance(model, Model):
        return model
    if isinstance(model, Encoder):
        return Model(model, settings)
    return load_model(model, settings)


def gallery_exists(location: str | Path) -> bool:
    return store_kind_for(location).exists(location)


def open_store(location: str | Path, *, read_only: bool = False) -> GalleryStore:
    """Open an existing gallery, of whichever kind its location names."""
    if not gallery_exists(location):
        raise LookalikeError(f"no gallery at {location}; build one with: lookalike index DIR --gallery {location}")
    return store_kind_for(location).open(location, read_only)


def model_of(store: GalleryStore, model: Model | None, settings: EmbedSettings = EmbedSettings()) -> Model:
    """The model to embed with for `store`: `model` when it is the one that made the stored vectors (else
    `ModelMismatchError`), or the copy the gallery keeps."""
    if model is None:
        if not store.model_dir.is_dir():
            raise LookalikeError(f"{store.location}: the gallery holds no copy of its model; pass --model")
        model = load_model(store.model_dir, settings)
    store.check_model(model.id)
    return model


@contextmanager
def writable_store(location: str | Path, model: Model, *, index: str = "flat") -> Iterator[GalleryStore]:
    """The gallery at `location` open for writing for one block of work (commit inside), created for `model` with
    its copy of the model inside when there is none. A gallery that the block created and that holds no committed
    image when the block fails is removed again: a failed first run leaves nothing behind, as if it had never
    started."""
    kind = store_kind_for(location)
    created, existed = not kind.exists(location), Path(location).exists()
    if created:
        store = kind.create(location, model_id=model.id, dim=model.dim, index=index,
                            fill=lambda staging: model.save(staging / MODEL_DIR_NAME))
    else:
        store = kind.open(location, False)
        try:
            store.check_model(model.id)
        except BaseException:
            store.close()
            raise
    try:
        with store:
            yield store
    except BaseException:
        if created and _committed_count(location) == 0:
            kind.delete(location)
            if existed:
                Path(location).mkdir(exist_ok=True)  # the empty folder the user had made
        raise


def _committed_count(location: str | Path) -> int:
    try:
        with open_store(location, read_only=True) as store:
            return len(store)
    except LookalikeError:
        return -1  # not readable as a gallery any more: leave it for a person to look at


@dataclass(frozen=True)
class GallerySummary:
    """What a person wants to know about a gallery: how many images, which model made them, which τ decides."""

    location: str
    info: GalleryInfo
    backbone: str | None  # None when the gallery keeps no copy of its model
    image_size: int | None
    weights: str | None  # how the model's weights came to be: random, imagenet, trained, ...


def gallery_name(location: str) -> str:
    """A gallery's short name for titles: the name of its folder or file, with a collection other than the
    default after it."""
    base, _, query = location.partition("?")
    name = base.rstrip("/").rsplit("/", 1)[-1]
    return f"{name}?{query}" if query else name


def summarise_gallery(store: GalleryStore) -> GallerySummary:
    """The summary of an open gallery, read from its manifest and the config of its model copy."""
    backbone = image_size = weights = None
    config_file = store.model_dir / CONFIG_FILE
    if config_file.is_file():
        meta = json.loads(config_file.read_text(encoding="utf-8"))
        arch, origin = meta.get("architecture", {}), meta.get("origin", {})
        backbone, image_size, weights = arch.get("backbone"), arch.get("image_size"), origin.get("init", "unknown")
    return GallerySummary(store.location, store.info, backbone, image_size, weights)
