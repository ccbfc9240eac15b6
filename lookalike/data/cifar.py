"""Reading CIFAR-10's "python version" without trusting pickle: only the few numpy names an array needs may load.

The batch files are Python pickles, and unpickling runs whatever callables a file names, so a doctored download
could run any code. This project never unpickles what a user hands it. Instead a restricted unpickler rebuilds the
numpy arrays, bytes, lists and dicts a genuine batch holds and refuses every other name before anything is called;
what it returns is then checked against the CIFAR-10 layout, so the rest of lookalike sees plain pixels and labels.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch

from lookalike.data.arrays import LabelledImages
from lookalike.errors import LookalikeError

try:
    from numpy._core.multiarray import _reconstruct as _numpy_reconstruct
except ImportError:  # numpy 1.x
    from numpy.core.multiarray import _reconstruct as _numpy_reconstruct  # type: ignore[no-redef]

CIFAR10_FOLDER = "cifar-10-batches-py"
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
"""The class names in label order, as batches.meta lists them; used when that file is absent."""
CIFAR10_BATCHES = {
    "train": ("data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5"),
    "test": ("test_batch",),
}
CIFAR10_SPLITS = tuple(CIFAR10_BATCHES)

IMAGE_SIDE = 32
IMAGE_VALUES = 3 * IMAGE_SIDE * IMAGE_SIDE
_CONTENTS = "data_batch_1 to data_batch_5, test_batch and batches.meta"


@dataclass
class CifarBatch:
    """One batch file's images and labels, checked."""

    file: Path
    pixels: np.ndarray
    """uint8, (N, 3, 32, 32)."""
    labels: list[int]
    """Class numbers, 0..9."""

    def __len__(self) -> int:
        return len(self.labels)


def find_cifar10(path: str | Path) -> Path | None:
    """The `cifar-10-batches-py` folder when `path` is one (it holds a batch file) or directly holds one."""
    given = Path(path)
    for folder in (given, given / CIFAR10_FOLDER):
        if any((folder / name).is_file() for name in ("data_batch_1", "test_batch")):
            return folder.resolve()
    return None


def cifar10_batch_files(folder: str | Path, split: str) -> list[Path]:
    """The batch files of `train` (data_batch_1..5, in that order) or `test` (test_batch); each must exist."""
    if split not in CIFAR10_BATCHES:
        raise ValueError(f"CIFAR-10 split must be one of {', '.join(CIFAR10_SPLITS)}, got {split!r}")
    files = [Path(folder) / name for name in CIFAR10_BATCHES[split]]
    for file in files:
        if not file.is_file():
            raise LookalikeError(f"{file}: not found; a {CIFAR10_FOLDER} folder holds {_CONTENTS}")
    return files


def read_cifar10_batch(file: str | Path) -> CifarBatch:
    """One batch file, read with the restricted unpickler and checked against the CIFAR-10 layout."""
    file = Path(file)
    content = _entries(_restricted_load(file), file)
    data, labels = content.get("data"), content.get("labels")
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != IMAGE_VALUES:
        found = f"a {data.dtype} array of shape {data.shape}" if isinstance(data, np.ndarray) else type(data).__name__
        raise LookalikeError(f"{file}: 'data' should be a uint8 array of N x {IMAGE_VALUES}, found {found}")
    numbers = _class_numbers(labels, file)
    if len(numbers) != len(data):
        raise LookalikeError(f"{file}: {len(numbers)} labels for {len(data)} images")
    return CifarBatch(file, data.reshape(-1, 3, IMAGE_SIDE, IMAGE_SIDE), numbers)


def read_cifar10_images(folder: str | Path, split: str) -> torch.Tensor:
    """A split's images as a uint8 (N, 3, 32, 32) tensor; `train` is data_batch_1..5 in order, `test` test_batch."""
    batches = [read_cifar10_batch(file) for file in cifar10_batch_files(folder, split)]
    return torch.from_numpy(np.concatenate([batch.pixels for batch in batches]))


def read_cifar10_labelled(folder: str | Path, split: str) -> LabelledImages:
    """A split's images and, for each, its class name from batches.meta."""
    folder = Path(folder)
    names = _class_names(folder)
    batches = [read_cifar10_batch(file) for file in cifar10_batch_files(folder, split)]
    labels = [names[number] for batch in batches for number in batch.labels]
    pixels = torch.from_numpy(np.concatenate([batch.pixels for batch in batches]))
    return LabelledImages(labels, f"{folder} ({split} split)", pixels=pixels)


def download_cifar10(root: str | Path) -> Path:
    """Download (163 MB) and unpack CIFAR-10 under `root` unless it is there already; returns its batches folder."""
    from torchvision.datasets import CIFAR10
    from torchvision.datasets.utils import download_and_extract_archive

    folder = Path(root) / CIFAR10.base_folder
    if not all((folder / name).is_file() for names in CIFAR10_BATCHES.values() for name in names):
        download_and_extract_archive(CIFAR10.url, str(root), filename=CIFAR10.filename, md5=CIFAR10.tgz_md5)
    return folder


class _BatchUnpickler(pickle.Unpickler):
    """Resolves only the names in `_ALLOWED`; any other global a pickle names is refused before it is called."""

    def __init__(self, stream: Any, file: Path) -> None:
        super().__init__(stream, encoding="bytes")  # Python 2 str (CIFAR's keys and raw pixels) loads as bytes
        self._file = file

    def find_class(self, module: str, name: str) -> Any:
        allowed = _ALLOWED.get((module, name))
        if allowed is None:
            raise LookalikeError(
                f"{self._file}: refusing to load {module}.{name} from a pickle; only CIFAR-10 arrays are read"
            )
        return allowed


def _reconstruct(subtype: Any, shape: Any, typecode: Any) -> np.ndarray:
    """numpy's `_reconstruct`, limited to the empty plain ndarray that pickled arrays start from."""
    if subtype is not np.ndarray or shape != (0,):
        raise pickle.UnpicklingError("unexpected arguments to numpy's array reconstruction")
    return cast(np.ndarray, _numpy_reconstruct(subtype, shape, typecode))


def _plain_dtype(*args: Any) -> np.dtype:
    """numpy.dtype, refusing object dtypes: an object array's items would be further pickled objects."""
    dtype = np.dtype(*args)
    if dtype.hasobject:
        raise pickle.UnpicklingError("arrays of Python objects are not read")
    return dtype


def _latin1_bytes(text: Any, encoding: Any) -> bytes:
    """How Python 3 writes bytes at pickle protocol 2 (`_codecs.encode(text, "latin1")`); no other codec is run."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError("_codecs.encode is only read as a latin-1 byte string")
    return text.encode("latin-1")


_ALLOWED: dict[tuple[str, str], Any] = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): _plain_dtype,
    ("_codecs", "encode"): _latin1_bytes,
}


def _restricted_load(file: Path) -> Any:
    try:
        with open(file, "rb") as stream:
            return _BatchUnpickler(stream, file).load()
    except LookalikeError:
        raise
    except FileNotFoundError:
        raise LookalikeError(f"{file}: not found; a {CIFAR10_FOLDER} folder holds {_CONTENTS}") from None
    except IsADirectoryError:
        raise LookalikeError(f"{file}: is a folder, not a CIFAR-10 batch file") from None
    except OSError as error:
        raise LookalikeError(f"{file}: unreadable: {error.strerror or error}") from error
    except Exception as error:  # the file is untrusted: any failure to unpickle it means it is damaged or not CIFAR
        if isinstance(error, EOFError) or "truncated" in str(error).lower():
            raise LookalikeError(f"{file}: truncated file") from error
        raise LookalikeError(f"{file}: not a CIFAR-10 pickle ({error or type(error).__name__})") from error


def _entries(loaded: Any, file: Path) -> dict[str, Any]:
    """The pickled dict with its keys as text, whether Python 2 (bytes) or Python 3 (str) wrote them."""
    if not isinstance(loaded, dict):
        raise LookalikeError(f"{file}: holds a {type(loaded).__name__}, not the dict a CIFAR-10 file holds")
    return {key.decode("latin-1") if isinstance(key, bytes) else key: value for key, value in loaded.items()}


def _class_numbers(labels: Any, file: Path) -> list[int]:
    if not isinstance(labels, (list, tuple)) or not all(type(label) is int for label in labels):
        raise LookalikeError(f"{file}: 'labels' should be a list of class numbers, found {type(labels).__name__}")
    for position, label in enumerate(labels):
        if not 0 <= label < len(CIFAR10_CLASSES):
            raise LookalikeError(
                f"{file}: label {label} at position {position} is outside 0..{len(CIFAR10_CLASSES) - 1}"
            )
    return list(labels)


def _class_names(folder: Path) -> tuple[str, ...]:
    """The names in batches.meta, or the standard ones when it is absent: the labels mean the same classes in every
    copy of CIFAR-10, and the file only spells them out. A file present but unreadable or malformed is refused."""
    file = folder / "batches.meta"
    if not file.exists():
        return CIFAR10_CLASSES
    names = _entries(_restricted_load(file), file).get("label_names")
    if not isinstance(names, (list, tuple)) or not all(isinstance(name, (bytes, str)) for name in names):
        raise LookalikeError(f"{file}: 'label_names' should be a list of class names")
    if len(names) != len(CIFAR10_CLASSES):
        raise LookalikeError(f"{file}: lists {len(names)} class names; CIFAR-10 has {len(CIFAR10_CLASSES)}")
    return tuple(name.decode("utf-8", "replace") if isinstance(name, bytes) else name for name in names)
