"""The default stage: the central square of the image, scaled to the input size in one antialiased step."""

from __future__ import annotations

from dataclasses import dataclass

from PIL import Image

from lookalike.preprocess.registry import DEFAULT_STAGE, WHOLE_IMAGE, Region, register_stage


@dataclass(frozen=True)
class CentreCrop:
    name: str = DEFAULT_STAGE
    views: str | None = None

    def draft_size(self, size: int) -> int:
        return size  # the shorter side is scaled down to `size`, so a JPEG decoded that small loses nothing

    def regions(self, image: Image.Image, size: int) -> list[Region]:
        width, height = image.size
        side = min(width, height)
        left, top = (width - side) / 2, (height - side) / 2
        square = image.resize((size, size), Image.Resampling.BICUBIC, box=(left, top, left + side, top + side))
        return [Region(WHOLE_IMAGE, square)]


register_stage(CentreCrop())
