"""Copies of a photo made the way copies happen, for choosing and testing what counts as a duplicate.

A near-duplicate is the same photo after what sharing and editing do to it: saved again as a JPEG, resized, trimmed
at the edges, made lighter or darker, softened. A "similar" photo is further away: another framing of the same scene,
approximated by a large crop, a slight turn and a change of light. Each kind draws its strength from a generator, so
a seed gives the same copies again.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np
from PIL import Image, ImageEnhance, ImageFilter


def _jpeg(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=int(rng.integers(20, 51)))
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


def _resize(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    share = rng.uniform(0.3, 0.7)
    return image.resize((max(1, round(image.width * share)), max(1, round(image.height * share))),
                        Image.Resampling.BILINEAR)


def _trim(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    return _crop(image, rng, side=rng.uniform(0.85, 0.95))


def _exposure(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    image = ImageEnhance.Brightness(image).enhance(rng.uniform(0.7, 1.3))
    return ImageEnhance.Contrast(image).enhance(rng.uniform(0.8, 1.2))


def _soften(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    return image.filter(ImageFilter.GaussianBlur(rng.uniform(1.0, 2.5) * max(image.size) / 500))


def _reframe(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    turned = image.rotate(rng.uniform(-10, 10), resample=Image.Resampling.BILINEAR, expand=False)
    cropped = _crop(turned, rng, side=rng.uniform(0.6, 0.75))
    return ImageEnhance.Color(_exposure(cropped, rng)).enhance(rng.uniform(0.6, 1.4))


def _crop(image: Image.Image, rng: np.random.Generator, side: float) -> Image.Image:
    """A crop keeping `side` of each side, placed at random."""
    width, height = max(1, round(image.width * side)), max(1, round(image.height * side))
    left = int(rng.integers(0, image.width - width + 1))
    top = int(rng.integers(0, image.height - height + 1))
    return image.crop((left, top, left + width, top + height))


Variant = Callable[[Image.Image, np.random.Generator], Image.Image]

DUPLICATE_KINDS: dict[str, Variant] = {
    "jpeg": _jpeg, "resize": _resize, "trim": _trim, "exposure": _exposure, "soften": _soften,
}
"""Edits after which a photo is still the same photo: what `duplicates` must find."""

SIMILAR_KINDS: dict[str, Variant] = {"reframe": _reframe}
"""Another framing of the same scene: what the looser "similar" level finds and the duplicate level must not."""


def make_variant(image: Image.Image, kind: str, rng: np.random.Generator) -> Image.Image:
    """A copy of `image` (RGB) edited in the way `kind` names, with strengths drawn from `rng`."""
    edit = DUPLICATE_KINDS.get(kind) or SIMILAR_KINDS.get(kind)
    if edit is None:
        raise ValueError(f"unknown kind of copy {kind!r}; choose one of "
                         f"{', '.join([*DUPLICATE_KINDS, *SIMILAR_KINDS])}")
    return edit(image.convert("RGB"), rng)
