"""Copying a gallery into a store of another kind (a folder into Milvus, or back) without embedding again.

Every image's record, vector and identity, the calibrated τ and the copy of the model go across; ids are the new
store's own. What the collection commands saved (the neighbour graph, clusters) is keyed by the old ids, so it stays
behind, and the next `duplicates` or `clusters` run makes it afresh.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path

from lookalike.errors import LookalikeError
from lookalike.gallery import ImageRecord, store_kind_for
from lookalike.gallery.embedded import MODEL_DIR_NAME
from lookalike.workspace import open_store

CHUNK = 10_000
"""Images per add: bounded memory, and batches a server takes comfortably."""


def copy_gallery(source: str | Path, destination: str | Path, *, index: str | None = None,
                 on_plan: Callable[[int], None] | None = None,
                 on_progress: Callable[[int], None] | None = None) -> int:
    """Copy the gallery at `source` into a new gallery at `destination` (of the kind its location names), with the
    index kind `index` (default: the source's); returns how many images were copied. A destination that holds a
    gallery already is refused, and a copy that fails part-way is removed: `source` is only ever read."""
    kind = store_kind_for(destination)
    if kind.exists(destination):
        raise LookalikeError(f"{destination} already holds a gallery; copy into a new location")
    with open_store(source, read_only=True) as origin:
        info = origin.info
        images = origin.images()
        if on_plan:
            on_plan(len(images))

        def copy_model(folder: Path) -> None:
            if origin.model_dir.is_dir():
                shutil.copytree(origin.model_dir, folder / MODEL_DIR_NAME)

        copy = kind.create(destination, model_id=info.model_id, dim=info.dim, index=index or info.index,
                           fill=copy_model)
        try:
            with copy:
                names = [field.name for field in fields(ImageRecord)]
                for start in range(0, len(images), CHUNK):
                    chunk = images[start:start + CHUNK]
                    records = [ImageRecord(**{name: getattr(image, name) for name in names}) for image in chunk]
                    copy.add(records, origin.vectors([image.id for image in chunk]), model_id=info.model_id)
                    if on_progress:
                        on_progress(len(chunk))
                copy.commit()
                if info.threshold is not None:
                    copy.set_threshold(info.threshold)
        except BaseException:
            kind.delete(destination)
            raise
    return len(images)
