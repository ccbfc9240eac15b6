"""The "faces" preprocessing stage: every face dlib finds in a photo, aligned by its 5 landmarks (eyes and nose)
into a square chip, as dlib's own face encoder expects its input.

Each face is a region of its own, named by its place in the photo ("face 0 at 67,68 108x108": left, top, width x
height in the decoded photo's pixels), largest face first, so that a file's first region is its main face. A photo
with no face is skipped with that reason. The HOG detector is the default: fast on a CPU, for frontal faces; the
CNN (mmod) detector also finds turned and small faces, at many times the cost.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
from PIL import Image

from lookalike.faces.dlib_files import CNN_DETECTOR, DLIB_LOCK, LANDMARKS_5, dlib, model_file
from lookalike.preprocess.registry import NothingFound, Region, register_stage

PADDING = 0.25
"""Room around the face in the chip, as a share of its size: dlib's encoder was trained on chips with 0.25."""


@cache
def _detector(kind: str) -> Any:
    if kind == "cnn":
        return dlib().cnn_face_detection_model_v1(str(model_file(CNN_DETECTOR)))
    return dlib().get_frontal_face_detector()


@cache
def _landmarks() -> Any:
    return dlib().shape_predictor(str(model_file(LANDMARKS_5)))


def face_key(index: int, left: int, top: int, width: int, height: int) -> str:
    """A face's region name: its rank by size and its box in the photo."""
    return f"face {index} at {left},{top} {width}x{height}"


_KEY = re.compile(r"face \d+ at (-?\d+),(-?\d+) (\d+)x(\d+)")


def face_box(key: str) -> tuple[int, int, int, int] | None:
    """(left, top, width, height) of a face from its region name, or None for a region that is not a face."""
    match = _KEY.fullmatch(key)
    return None if match is None else (int(match[1]), int(match[2]), int(match[3]), int(match[4]))


@dataclass(frozen=True)
class FaceChips:
    """Faces found by dlib's `detector` ("hog" or "cnn"), each aligned into a chip with `padding` around it. The
    detector looks at the photo upsampled `upsample` times, which finds faces down to about 40 / 2**upsample
    pixels wide."""

    name: str
    detector: str = "hog"
    upsample: int = 1
    padding: float = PADDING
    views: str = "faces"
    """An aligned chip is all face: the objective's own views (the seed's half-size centre crop, SimCLR's crops of
    down to 8 % of the area) would cut away most of what tells one person from another."""

    def draft_size(self, size: int) -> None:
        return None  # a face may be a small part of the photo: decode it in full

    def regions(self, image: Image.Image, size: int) -> list[Region]:
        pixels = np.asarray(image)
        with DLIB_LOCK:
            boxes = self._boxes(pixels)
            if not boxes:
                raise NothingFound(f"no face found (dlib's {self.detector.upper()} detector)")
            boxes.sort(key=lambda box: -box.width() * box.height())
            predictor = _landmarks()
            shapes = dlib().full_object_detections([predictor(pixels, box) for box in boxes])
            chips = dlib().get_face_chips(pixels, shapes, size=size, padding=self.padding)
        return [Region(face_key(index, box.left(), box.top(), box.width(), box.height()), Image.fromarray(chip))
                for index, (box, chip) in enumerate(zip(boxes, chips))]

    def _boxes(self, pixels: np.ndarray) -> list:
        found = _detector(self.detector)(pixels, self.upsample)
        return [detection.rect for detection in found] if self.detector == "cnn" else list(found)


register_stage(FaceChips("faces"))
register_stage(FaceChips("faces-cnn", detector="cnn"))
