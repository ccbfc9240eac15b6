"""``gallery.json``: the facts about a gallery that must be known before touching its vectors.

Which model made the vectors, their dimension and metric, the index kind and how hard it searches, and the calibrated
threshold. It is small, human-readable and rewritten whole (atomically) on every change, and its presence is what
makes a folder a gallery: it is written last when a gallery is created.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from lookalike.atomic import write_json_atomic
from lookalike.errors import LookalikeError
from lookalike.gallery.vector_index import INDEX_KINDS, SearchEffort
from lookalike.json_file import read_json_object

MANIFEST_NAME = "gallery.json"
FORMAT_VERSION = 1
METRIC = "cosine"


@dataclass(frozen=True)
class Manifest:
    """The contents of ``gallery.json``; making one checks them, so a Manifest in hand is always valid."""

    model_id: str
    dim: int
    index: str
    effort: SearchEffort
    threshold: float | None
    created_at: str
    metric: str = METRIC
    format_version: int = FORMAT_VERSION

    def __post_init__(self) -> None:
        if self.format_version != FORMAT_VERSION:
            raise ValueError(
                f"format version {self.format_version} is not supported (this lookalike reads {FORMAT_VERSION})"
            )
        if self.metric != METRIC:
            raise ValueError(f"metric {self.metric!r} is not supported (only {METRIC!r})")
        if not self.model_id:
            raise ValueError("model_id is empty")
        if self.dim < 1:
            raise ValueError(f"dim must be at least 1, not {self.dim}")
        if self.index not in INDEX_KINDS:
            raise ValueError(f"index kind {self.index!r} is not one of {', '.join(INDEX_KINDS)}")
        if self.threshold is not None and not math.isfinite(self.threshold):
            raise ValueError(f"threshold {self.threshold!r} is not a finite number")

    @classmethod
    def new(cls, *, model_id: str, dim: int, index: str, effort: SearchEffort) -> Manifest:
        created_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
        return cls(model_id=model_id, dim=dim, index=index, effort=effort, threshold=None, created_at=created_at)

    def write(self, folder: Path) -> None:
        write_json_atomic(folder / MANIFEST_NAME, asdict(self))

    @classmethod
    def read(cls, folder: Path) -> Manifest:
        """Read and check ``folder/gallery.json``; every problem is a ``LookalikeError`` that names the folder."""
        path = folder / MANIFEST_NAME
        data = read_json_object(path, missing=f"{folder} is not a lookalike gallery: it has no {MANIFEST_NAME}",
                                what="manifest")
        try:
            return cls._from_json(data)
        except (KeyError, TypeError, ValueError) as error:
            raise LookalikeError(f"gallery {folder}: {MANIFEST_NAME} is invalid: {error}") from None

    @classmethod
    def _from_json(cls, data: dict) -> Manifest:
        threshold = data["threshold"]
        return cls(
            format_version=_typed(data, "format_version", int),
            metric=_typed(data, "metric", str),
            model_id=_typed(data, "model_id", str),
            dim=_typed(data, "dim", int),
            index=_typed(data, "index", str),
            effort=SearchEffort(**_typed(data, "effort", dict)),
            threshold=None if threshold is None else float(_typed(data, "threshold", (int, float))),
            created_at=_typed(data, "created_at", str),
        )


def _typed(data: dict[str, Any], key: str, kind: type | tuple[type, ...]) -> Any:
    """``data[key]``, refusing a wrong JSON type (and ``true`` where a number belongs)."""
    value = data[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise TypeError(f"{key!r} has the wrong type: {value!r}")
    return value
