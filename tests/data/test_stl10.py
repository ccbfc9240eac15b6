"""STL-10's binary files: layout, orientation, labels, and the ways a copy of them can be broken."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch

from lookalike.data import stl10
from lookalike.data.stl10 import (
    STL10_CLASSES,
    find_stl10,
    map_stl10_images,
    read_stl10_images,
    read_stl10_labelled,
)
from lookalike.errors import LookalikeError


def random_images(count: int, seed: int = 0) -> np.ndarray:
    """(N, 3, 96, 96) uint8 noise, which no transpose or flip maps onto itself."""
    return np.random.default_rng(seed).integers(0, 256, (count, 3, 96, 96), dtype=np.uint8)


def write_stl10(folder: Path, split: str, images: np.ndarray, labels: list[int] | None = None) -> Path:
    """Write a split as the official files do: each colour plane of each image in column-major order."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{split}_X.bin").write_bytes(images.transpose(0, 1, 3, 2).tobytes())
    if labels is not None:
        (folder / f"{split}_y.bin").write_bytes(bytes(labels))
    return folder


def test_images_are_read_in_display_orientation(tmp_path: Path) -> None:
    written = random_images(3)
    written[1] = 0
    written[1, 0, 5, 70] = 255  # one red pixel in row 5, column 70
    folder = write_stl10(tmp_path / "stl10_binary", "train", written)

    pixels = read_stl10_images(folder, "train")

    assert pixels.shape == (3, 3, 96, 96) and pixels.dtype == torch.uint8
    assert pixels[1, 0, 5, 70] == 255 and pixels[1, 0, 70, 5] == 0
    assert np.array_equal(pixels.numpy(), written)
    assert pixels.is_contiguous()


def test_the_mapped_view_reads_the_file_lazily_and_cannot_write_it(tmp_path: Path) -> None:
    written = random_images(4, seed=1)
    folder = write_stl10(tmp_path, "unlabeled", written)

    view = map_stl10_images(folder, "unlabeled")

    assert isinstance(view, np.memmap) and not view.flags.writeable
    assert np.array_equal(view[2], written[2])


def test_labels_become_class_names_from_class_names_txt(tmp_path: Path) -> None:
    written = random_images(3, seed=2)
    folder = write_stl10(tmp_path, "test", written, labels=[1, 10, 3])
    (folder / "class_names.txt").write_text("".join(f"{name.upper()}\n" for name in STL10_CLASSES))

    labelled = read_stl10_labelled(folder, "test")

    assert labelled.labels == ["AIRPLANE", "TRUCK", "CAR"]
    assert labelled.paths is None and np.array_equal(labelled.pixels.numpy(), written)
    assert labelled.source == f"{folder} (test split)" and len(labelled) == 3


def test_standard_class_names_are_used_when_class_names_txt_is_absent(tmp_path: Path) -> None:
    folder = write_stl10(tmp_path, "train", random_images(2), labels=[8, 4])
    assert read_stl10_labelled(folder, "train").labels == ["monkey", "cat"]


def test_find_stl10_accepts_the_folder_or_its_parent(tmp_path: Path) -> None:
    folder = write_stl10(tmp_path / "data" / "stl10_binary", "test", random_images(1))
    assert find_stl10(folder) == folder.resolve()
    assert find_stl10(tmp_path / "data") == folder.resolve()
    assert find_stl10(tmp_path) is None
    assert find_stl10(tmp_path / "missing") is None


# Broken copies


def test_a_truncated_images_file_is_refused_with_its_size(tmp_path: Path) -> None:
    folder = write_stl10(tmp_path, "train", random_images(2))
    file = folder / "train_X.bin"
    file.write_bytes(file.read_bytes()[:-100])
    expected = rf"^{re.escape(str(file))}: 55196 bytes is not a whole number of 96x96 RGB images"
    with pytest.raises(LookalikeError, match=expected):
        read_stl10_images(folder, "train")


def test_an_empty_images_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "test_X.bin").touch()
    with pytest.raises(LookalikeError, match=r"test_X\.bin: empty file"):
        read_stl10_images(tmp_path, "test")


def test_a_missing_split_names_the_file_and_what_the_folder_should_hold(tmp_path: Path) -> None:
    folder = write_stl10(tmp_path, "train", random_images(1), labels=[1])
    expected = rf"^{re.escape(str(folder / 'unlabeled_X.bin'))}: not found; an stl10_binary folder holds .*train_y\.bin"
    with pytest.raises(LookalikeError, match=expected):
        read_stl10_images(folder, "unlabeled")


def test_a_missing_labels_file_is_refused(tmp_path: Path) -> None:
    folder = write_stl10(tmp_path, "test", random_images(1))
    with pytest.raises(LookalikeError, match=r"test_y\.bin: not found; it holds the labels of test_X\.bin"):
        read_stl10_labelled(folder, "test")


def test_more_labels_than_images_is_refused(tmp_path: Path) -> None:
    folder = write_stl10(tmp_path, "train", random_images(2), labels=[1, 2, 3])
    with pytest.raises(LookalikeError, match=r"train_y\.bin: 3 labels for the 2 images in train_X\.bin"):
        read_stl10_labelled(folder, "train")


@pytest.mark.parametrize("label", [0, 11])
def test_a_label_outside_one_to_ten_is_refused(tmp_path: Path, label: int) -> None:
    folder = write_stl10(tmp_path, "train", random_images(2), labels=[5, label])
    with pytest.raises(LookalikeError, match=rf"train_y\.bin: label {label} at position 1 is outside 1\.\.10"):
        read_stl10_labelled(folder, "train")


def test_class_names_txt_with_the_wrong_number_of_names_is_refused(tmp_path: Path) -> None:
    folder = write_stl10(tmp_path, "train", random_images(1), labels=[1])
    (folder / "class_names.txt").write_text("cat\ndog\n")
    with pytest.raises(LookalikeError, match=r"class_names\.txt: lists 2 class names; STL-10 has 10"):
        read_stl10_labelled(folder, "train")


def test_the_unlabeled_split_has_no_labels_to_read(tmp_path: Path) -> None:
    folder = write_stl10(tmp_path, "unlabeled", random_images(1))
    with pytest.raises(ValueError, match="only the train and test splits"):
        read_stl10_labelled(folder, "unlabeled")


# Download, without the network


def test_download_fetches_torchvisions_archive_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torchvision.datasets.utils

    calls = []

    def fake_download(url: str, root: str, *, filename: str, md5: str) -> None:
        calls.append((url, root, filename, md5))
        for split in stl10.STL10_SPLITS:
            write_stl10(Path(root) / "stl10_binary", split, random_images(1))

    monkeypatch.setattr(torchvision.datasets.utils, "download_and_extract_archive", fake_download)

    assert stl10.download_stl10(tmp_path) == tmp_path / "stl10_binary"
    assert stl10.download_stl10(tmp_path) == tmp_path / "stl10_binary"
    assert calls == [(torchvision.datasets.STL10.url, str(tmp_path), "stl10_binary.tar.gz",
                      torchvision.datasets.STL10.tgz_md5)]
