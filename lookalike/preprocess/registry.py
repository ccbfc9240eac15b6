"""Preprocessing stages by name: what turns a decoded RGB image into the square input an encoder takes.

A model records the name of its stage in its config, so every path an image takes to that model (indexing, search,
training, enrolment, the server, `Model.embed`) prepares it the same way. A new stage is one module that calls
`register_stage`; a model is created with it by naming it (`EncoderConfig(preprocess=NAME)`).
"""

from __future__ import annotations

from typing import Protocol

from PIL import Image

from lookalike.errors import LookalikeError

DEFAULT_STAGE = "centre-crop"


class Stage(Protocol):
    """Turns one decoded image into the encoder's input. Stages are plain picklable objects: decoding worker
    processes receive them."""

    @property
    def name(self) -> str:
        """What the model's config records."""
        ...

    def draft_size(self, size: int) -> int | None:
        """The smallest side a JPEG may be decoded at (Pillow's reduced-scale decoding) and still give this stage
        what it needs for an input of `size` pixels; None to always decode in full."""
        ...

    def apply(self, image: Image.Image, size: int) -> Image.Image:
        """An RGB image of `size` x `size` pixels made from `image` (RGB, any size)."""
        ...


_STAGES: dict[str, Stage] = {}


def register_stage(stage: Stage) -> Stage:
    """Make `stage` available by its name; a name is registered once."""
    if stage.name in _STAGES:
        raise ValueError(f"a preprocessing stage named {stage.name!r} is registered already")
    _STAGES[stage.name] = stage
    return stage


def stage_named(name: str) -> Stage:
    try:
        return _STAGES[name]
    except KeyError:
        raise LookalikeError(f"unknown preprocessing stage {name!r}; choose one of {', '.join(_STAGES)}") from None


def stage_names() -> list[str]:
    return list(_STAGES)
