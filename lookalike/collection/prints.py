"""Pixel prints: each photo shrunk to 16 × 16 grey levels, so that two files can be compared as pictures as well as
by what a model sees in them.

An image model's embedding is steady under a trim or a change of light, but it can move a long way when a photo
loses detail (resized to a third, softened): ImageNet features of a 60-pixel copy are those of a blur. The coarse
layout of light and dark is the other way round: a resized, re-encoded or softened copy keeps it, a trim shifts it.
So duplicates are found with both (see lookalike.collection.levels). A print has zero mean and unit norm, which
makes it blind to brightness and contrast, and the correlation of two prints (their dot product) lies in [-1, 1].

Prints are kept in ``G/collection/prints.safetensors`` by image id; ids are never reused (a changed file is stored
under a new one), so each file is read once, and a file that cannot be read back now is tried again next time.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from safetensors import SafetensorError, safe_open
from safetensors.torch import save

from lookalike.atomic import write_bytes_atomic
from lookalike.collection.neighbours import STATE_DIR
from lookalike.data import decode_rgb
from lookalike.errors import LookalikeError
from lookalike.gallery import GalleryStore, StoredImage
from lookalike.gallery.stored_file import read_stored_file

SIDE = 16
PRINTS_FILE = "prints.safetensors"
_FORMAT = "lookalike-prints-1"


def pixel_print(image: Image.Image) -> np.ndarray:
    """The print of an image: its grey levels at SIDE × SIDE (each cell the mean of its area), zero mean, unit norm;
    all zeros for an image of one flat colour, which then matches nothing."""
    cells = np.asarray(image.convert("L").resize((SIDE, SIDE), Image.Resampling.BOX), dtype=np.float32).ravel()
    cells -= cells.mean()
    norm = float(np.linalg.norm(cells))
    return cells / norm if norm > 1e-3 else np.zeros_like(cells)


def stored_print(image: StoredImage) -> np.ndarray | None:
    """The print of a stored image, or None when its file cannot be read back as indexed, or it is a region (a
    face): the levels are measured with whole photos' prints only, so a region's print would never be asked for."""
    if image.region:
        return None
    try:
        return pixel_print(Image.fromarray(decode_rgb(read_stored_file(image), name=image.path)))
    except LookalikeError:
        return None


class PrintCache:
    """The prints of a gallery's images, read from files only for those not kept yet."""

    def __init__(self, store: GalleryStore) -> None:
        self._store = store
        self._file = Path(store.folder) / STATE_DIR / PRINTS_FILE
        self._prints = _read(self._file)
        self._unreadable: set[int] = set()  # asked for in this run and not read: not read again until the next
        self._added = False

    def prints(self, ids: Sequence[int]) -> np.ndarray:
        """The prints of these ids as a ``(len(ids), SIDE²)`` float32 array, NaN rows for those that cannot be
        read back."""
        missing = [int(id_) for id_ in dict.fromkeys(ids)
                   if int(id_) not in self._prints and int(id_) not in self._unreadable]
        for image in self._store.get(missing) if missing else []:
            found = stored_print(image)
            if found is None:
                self._unreadable.add(image.id)
            else:
                self._prints[image.id] = found.astype(np.float16)
                self._added = True
        empty = np.full(SIDE * SIDE, np.nan, np.float32)
        return np.stack([self._prints.get(int(id_), empty).astype(np.float32) for id_ in ids]) if len(ids) else \
            np.empty((0, SIDE * SIDE), np.float32)

    def save(self, keep: np.ndarray) -> None:
        """Write the prints of the ids in `keep` (the images still stored) when any were added or dropped."""
        stored = set(keep.tolist())
        kept = {id_: value for id_, value in self._prints.items() if id_ in stored}
        if not self._added and len(kept) == len(self._prints):
            return
        ids = np.array(sorted(kept), dtype=np.int64)
        values = np.stack([kept[int(id_)] for id_ in ids]) if len(ids) else np.empty((0, SIDE * SIDE), np.float16)
        write_bytes_atomic(self._file, save({"ids": torch.from_numpy(ids), "prints": torch.from_numpy(values)},
                                            metadata={"format": _FORMAT}))
        self._prints, self._added = kept, False


def _read(file: Path) -> dict[int, np.ndarray]:
    """The kept prints by id; nothing when there are none, or they are damaged or of another format (they are only
    made again)."""
    try:
        with safe_open(file, framework="pt") as stored:
            if (stored.metadata() or {}).get("format") != _FORMAT:
                return {}
            ids, values = stored.get_tensor("ids").numpy(), stored.get_tensor("prints").numpy()
    except (OSError, SafetensorError, json.JSONDecodeError, KeyError):
        return {}
    if ids.ndim != 1 or values.shape != (len(ids), SIDE * SIDE):
        return {}
    return dict(zip(ids.tolist(), values))

