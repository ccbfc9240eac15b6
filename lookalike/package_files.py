"""Data files shipped inside installed packages (model weights), found without importing the package: an
`__init__` may import what breaks (face_recognition_models's imports pkg_resources), and a file needs no code."""

from __future__ import annotations

import importlib.util
from pathlib import Path


def package_file(package: str, *parts: str) -> Path | None:
    """The file at `parts` inside the installed top-level `package`, or None when either is missing."""
    spec = importlib.util.find_spec(package)  # locates a top-level package without running it
    for folder in (spec.submodule_search_locations or []) if spec is not None else []:
        path = Path(folder).joinpath(*parts)
        if path.is_file():
            return path
    return None
