"""CIFAR-10's pickled batches, read without ever running what a pickle names: layout, labels, hostile files."""

from __future__ import annotations

import os
import pickle
import re
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from lookalike.data import cifar
from lookalike.data.cifar import (
    CIFAR10_CLASSES,
    find_cifar10,
    read_cifar10_batch,
    read_cifar10_images,
    read_cifar10_labelled,
)
from lookalike.errors import LookalikeError


class Python2Pickler(pickle._Pickler):
    """Writes byte and text strings as Python 2 did (STRING opcodes), and names numpy.core, as the real files do."""

    dispatch = pickle._Pickler.dispatch.copy()

    def save_python2_string(self, obj: bytes | str) -> None:
        raw = obj.encode("latin-1") if isinstance(obj, str) else obj
        if len(raw) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(raw)]) + raw)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(raw)) + raw)
        self.memoize(obj)

    dispatch[bytes] = save_python2_string
    dispatch[str] = save_python2_string

    def save_global(self, obj: Any, name: str | None = None) -> None:
        if getattr(obj, "__name__", None) == "_reconstruct":
            self.write(pickle.GLOBAL + b"numpy.core.multiarray\n_reconstruct\n")
            self.memoize(obj)
        else:
            super().save_global(obj, name)


def random_images(count: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (count, 3, 32, 32), dtype=np.uint8)


def write_pickle(file: Path, content: Any, python2: bool = False) -> Path:
    file.parent.mkdir(parents=True, exist_ok=True)
    with open(file, "wb") as stream:
        if python2:
            Python2Pickler(stream, protocol=2).dump(content)
        else:
            pickle.dump(content, stream, protocol=2)
    return file


def write_batch(file: Path, images: np.ndarray, labels: list[int], python2: bool = False) -> Path:
    """A batch as CIFAR-10 lays it out: each row the R plane, then G, then B, each 32 x 32 row-major."""
    content = {
        b"batch_label": b"a test batch",
        b"labels": labels,
        b"data": images.reshape(len(images), 3072),
        b"filenames": [f"image_{index}.png".encode() for index in range(len(images))],
    }
    return write_pickle(file, content, python2)


def write_cifar10(folder: Path, per_batch: int = 2, meta: bool = True) -> tuple[np.ndarray, list[int]]:
    """A whole tiny cifar-10-batches-py folder; returns the training images and labels in order."""
    images, labels = [], []
    for number in range(1, 6):
        batch = random_images(per_batch, seed=number)
        batch_labels = [(number + index) % 10 for index in range(per_batch)]
        write_batch(folder / f"data_batch_{number}", batch, batch_labels)
        images.append(batch)
        labels += batch_labels
    write_batch(folder / "test_batch", random_images(per_batch, seed=99), [9] * per_batch)
    if meta:
        write_pickle(folder / "batches.meta", {b"label_names": [name.encode() for name in CIFAR10_CLASSES]})
    return np.concatenate(images), labels


def test_train_split_is_the_five_batches_in_order(tmp_path: Path) -> None:
    images, _ = write_cifar10(tmp_path)

    pixels = read_cifar10_images(tmp_path, "train")

    assert pixels.shape == (10, 3, 32, 32) and pixels.dtype == torch.uint8
    assert np.array_equal(pixels.numpy(), images)
    assert read_cifar10_images(tmp_path, "test").shape == (2, 3, 32, 32)


def test_rows_are_red_then_green_then_blue_planes_in_row_major_order(tmp_path: Path) -> None:
    row = np.zeros((1, 3072), dtype=np.uint8)
    row[0, 1024 + 32 * 3 + 20] = 255  # green plane, row 3, column 20
    file = write_pickle(tmp_path / "test_batch", {b"data": row, b"labels": [0]})

    pixels = read_cifar10_batch(file).pixels

    assert pixels.shape == (1, 3, 32, 32)
    assert pixels[0, 1, 3, 20] == 255 and pixels.sum() == 255


def test_labels_are_class_names_from_batches_meta(tmp_path: Path) -> None:
    _, labels = write_cifar10(tmp_path)
    write_pickle(tmp_path / "batches.meta", {b"label_names": [f"class {n}".encode() for n in range(10)]})

    labelled = read_cifar10_labelled(tmp_path, "train")

    assert labelled.labels == [f"class {n}" for n in labels]
    assert np.array_equal(labelled.pixels.numpy(), read_cifar10_images(tmp_path, "train").numpy())
    assert labelled.source == f"{tmp_path} (train split)"


def test_standard_class_names_are_used_when_batches_meta_is_absent(tmp_path: Path) -> None:
    write_cifar10(tmp_path, meta=False)
    assert read_cifar10_labelled(tmp_path, "test").labels == ["truck", "truck"]


def test_batches_written_by_python_2_read_the_same(tmp_path: Path) -> None:
    images = random_images(3, seed=5)
    file = write_batch(tmp_path / "data_batch_1", images, [0, 4, 9], python2=True)
    assert b"numpy.core.multiarray" in file.read_bytes() and b"_codecs" not in file.read_bytes()

    batch = read_cifar10_batch(file)

    assert np.array_equal(batch.pixels, images) and batch.labels == [0, 4, 9]


def test_find_cifar10_accepts_the_folder_or_its_parent(tmp_path: Path) -> None:
    folder = tmp_path / "cifar-10-batches-py"
    write_batch(folder / "test_batch", random_images(1), [0])
    assert find_cifar10(folder) == folder.resolve()
    assert find_cifar10(tmp_path) == folder.resolve()
    assert find_cifar10(tmp_path / "elsewhere") is None


# Hostile and broken files


class RunsACommand:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return os.system, (f"touch {self.marker}",)


class EvaluatesCode:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return eval, (f"open({str(self.marker)!r}, 'w').close()",)


@pytest.mark.parametrize("payload", [RunsACommand, EvaluatesCode])
def test_a_pickle_that_would_run_code_is_refused_without_running_it(tmp_path: Path, payload: type) -> None:
    marker = tmp_path / "it-ran"
    file = write_pickle(tmp_path / "data_batch_1", {b"data": payload(marker), b"labels": [0]})

    with pytest.raises(LookalikeError, match=rf"^{re.escape(str(file))}: refusing to load \w+\.(system|eval) from a "
                                             r"pickle; only CIFAR-10 arrays are read$"):
        read_cifar10_batch(file)
    assert not marker.exists()

    with open(file, "rb") as stream:  # what an ordinary pickle.load would have done
        pickle.load(stream)
    assert marker.exists()


def test_an_object_array_is_refused(tmp_path: Path) -> None:
    file = write_pickle(tmp_path / "test_batch", {b"data": np.array([1, "x"], dtype=object), b"labels": [0]})
    with pytest.raises(LookalikeError, match=r"test_batch: not a CIFAR-10 pickle \(arrays of Python objects"):
        read_cifar10_batch(file)


def test_a_truncated_batch_is_refused(tmp_path: Path) -> None:
    file = write_batch(tmp_path / "data_batch_1", random_images(2), [0, 1])
    file.write_bytes(file.read_bytes()[:3000])
    with pytest.raises(LookalikeError, match=rf"^{re.escape(str(file))}: truncated file$"):
        read_cifar10_batch(file)


def test_a_file_that_is_not_a_pickle_is_refused(tmp_path: Path) -> None:
    file = tmp_path / "test_batch"
    file.write_text("airplane,automobile\n")
    with pytest.raises(LookalikeError, match=r"test_batch: not a CIFAR-10 pickle"):
        read_cifar10_batch(file)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ([1, 2, 3], r"holds a list, not the dict a CIFAR-10 file holds"),
        ({b"labels": [0]}, r"'data' should be a uint8 array of N x 3072, found NoneType"),
        ({b"data": np.zeros((1, 3072), np.float32), b"labels": [0]}, r".*found a float32 array of shape \(1, 3072\)"),
        ({b"data": np.zeros((1, 1024), np.uint8), b"labels": [0]}, r".*found a uint8 array of shape \(1, 1024\)"),
        ({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0]}, r"1 labels for 2 images"),
        ({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 10]}, r"label 10 at position 1 is outside 0\.\.9"),
        ({b"data": np.zeros((1, 3072), np.uint8), b"fine_labels": [0]}, r"'labels' should be a list of class numbers"),
    ],
)
def test_a_batch_with_the_wrong_layout_is_refused(tmp_path: Path, content: Any, message: str) -> None:
    file = write_pickle(tmp_path / "data_batch_1", content)
    with pytest.raises(LookalikeError, match=rf"^{re.escape(str(file))}: {message}"):
        read_cifar10_batch(file)


def test_a_missing_batch_is_named(tmp_path: Path) -> None:
    write_cifar10(tmp_path)
    (tmp_path / "data_batch_3").unlink()
    with pytest.raises(LookalikeError, match=rf"^{re.escape(str(tmp_path / 'data_batch_3'))}: not found"):
        read_cifar10_images(tmp_path, "train")


def test_batches_meta_with_the_wrong_number_of_names_is_refused(tmp_path: Path) -> None:
    write_cifar10(tmp_path)
    write_pickle(tmp_path / "batches.meta", {b"label_names": [b"cat", b"dog"]})
    with pytest.raises(LookalikeError, match=r"batches\.meta: lists 2 class names; CIFAR-10 has 10"):
        read_cifar10_labelled(tmp_path, "test")


# Download, without the network


def test_download_fetches_torchvisions_archive_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torchvision.datasets.utils

    calls = []

    def fake_download(url: str, root: str, *, filename: str, md5: str) -> None:
        calls.append((url, root, filename, md5))
        write_cifar10(Path(root) / "cifar-10-batches-py", per_batch=1)

    monkeypatch.setattr(torchvision.datasets.utils, "download_and_extract_archive", fake_download)

    assert cifar.download_cifar10(tmp_path) == tmp_path / "cifar-10-batches-py"
    assert cifar.download_cifar10(tmp_path) == tmp_path / "cifar-10-batches-py"
    assert calls == [(torchvision.datasets.CIFAR10.url, str(tmp_path), "cifar-10-python.tar.gz",
                      torchvision.datasets.CIFAR10.tgz_md5)]
