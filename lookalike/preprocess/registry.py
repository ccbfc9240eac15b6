"""Preprocessing stages by name: what turns a decoded RGB image into the square inputs an encoder takes.

A model records the name of its stage in its config, so every path an image takes to that model (indexing, search,
training, enrolment, the server, `Model.embed`) prepares it the same way. A new stage is one module that calls
`register_stage`; a model is created with it by naming it (`EncoderConfig(preprocess=NAME)`).

A stage may find several regions in one image (the faces in a photo), or none: each region becomes a record of its
own, keyed by its file and the region's name, and a file in which the stage finds nothing is reported as skipped,
with the stage's reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from PIL import Image

from lookalike.registry import Registry

DEFAULT_STAGE = "centre-crop"
WHOLE_IMAGE = ""
"""The name of the one region a stage makes of the whole image (the default stage's only region)."""


@dataclass(frozen=True)
class Region:
    """One input the stage made: its name within the image (`WHOLE_IMAGE`, or say "face 0") and its square RGB
    pixels at the input size."""

    key: str
    image: Image.Image


class NothingFound(Exception):
    """A stage found nothing to embed in an image; the message says what it looked for."""


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

    @property
    def views(self) -> str | None:
        """The view recipe (by name, see lookalike.views) that suits what this stage makes, for training that names
        none; None leaves the choice to the objective."""
        ...

    def regions(self, image: Image.Image, size: int) -> list[Region]:
        """The RGB inputs of `size` x `size` pixels made from `image` (RGB, any size), each with a name unique
        within the image. Raises `NothingFound` when there is none."""
        ...


_STAGES: Registry[Stage] = Registry("preprocessing stage")


def register_stage(stage: Stage) -> Stage:
    """Make `stage` available by its name; a name is registered once."""
    return _STAGES.register(stage.name, stage)


def stage_named(name: str) -> Stage:
    return _STAGES[name]


def stage_names() -> list[str]:
    return list(_STAGES)
