"""Small public image sets for the demo: TensorFlow's flower photos when the network allows, scikit-learn's
handwritten digits (shipped inside the package, so always available) when it does not.

Both are written as one sub-folder per class, the layout every lookalike command reads.
"""

from __future__ import annotations

import os
import shutil
import tarfile
import tempfile
import urllib.request
from pathlib import Path

import numpy as np
from PIL import Image

FLOWERS_URL = "https://storage.googleapis.com/download.tensorflow.org/example_images/flower_photos.tgz"
DOWNLOAD_TIMEOUT_SECONDS = 15


SOURCES = {
    "flower_photos": "TensorFlow's flower_photos (storage.googleapis.com/download.tensorflow.org): 3,670 Flickr "
                     "photos of 5 kinds of flower, each under CC BY 2.0 as credited in the set's LICENSE.txt",
    "sklearn_digits": "UCI's Optical Recognition of Handwritten Digits (Alpaydin and Kaynak, 1998), CC BY 4.0, as "
                      "scikit-learn ships it: 1,797 digits of 8 × 8 pixels, 0 to 9",
}
"""Where each public set comes from and under what licence, by the folder its loader writes."""


def source_of(folder: Path) -> str | None:
    """The source and licence of a public set this module wrote, else None (a user's own folder)."""
    return SOURCES.get(folder.name)


def cache_dir() -> Path:
    """$LOOKALIKE_CACHE, else $XDG_CACHE_HOME/lookalike, else ~/.cache/lookalike."""
    if os.environ.get("LOOKALIKE_CACHE"):
        return Path(os.environ["LOOKALIKE_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "lookalike"


def flower_photos(root: Path | None = None) -> Path:
    """The flower photos (5 classes, about 3,700 JPEGs, 218 MB download), fetched once and cached.

    Raises OSError (urllib's URLError is one) when the download fails.
    """
    target = (root or cache_dir()) / "flower_photos"
    if target.is_dir():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
        archive = Path(scratch) / "flower_photos.tgz"
        with (urllib.request.urlopen(FLOWERS_URL, timeout=DOWNLOAD_TIMEOUT_SECONDS) as response,
              open(archive, "wb") as fh):
            shutil.copyfileobj(response, fh)
        with tarfile.open(archive) as tar:
            tar.extractall(scratch, filter="data")  # the "data" filter refuses absolute paths and links out
        os.replace(Path(scratch) / "flower_photos", target)
    return target


def sklearn_digits(root: Path | None = None) -> Path:
    """scikit-learn's 1,797 handwritten digits (8x8, 17 grey levels) as PNG files, one folder per digit."""
    from sklearn.datasets import load_digits

    target = (root or cache_dir()) / "sklearn_digits"
    if target.is_dir():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    digits = load_digits()
    with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
        for number, (pixels, label) in enumerate(zip(digits.images, digits.target)):
            folder = Path(scratch) / str(label)
            folder.mkdir(exist_ok=True)
            grey = np.round(pixels * (255 / 16)).astype(np.uint8)
            Image.fromarray(grey).save(folder / f"digit_{number:04d}.png")
        os.replace(scratch, target)
        Path(scratch).mkdir()  # TemporaryDirectory expects to clean something up
    return target


def demo_images(root: Path | None = None) -> tuple[Path, str]:
    """A folder of labelled images for the demo and a sentence saying which set it is and why."""
    try:
        return flower_photos(root), "TensorFlow flower photos (downloaded and cached)"
    except (OSError, tarfile.TarError) as err:  # URLError is an OSError
        reason = getattr(err, "reason", err)
        return sklearn_digits(root), ("scikit-learn handwritten digits (offline fallback: the flower download "
                                      f"failed: {reason})")
