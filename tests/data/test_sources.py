"""Choosing how to read a path the user gave, and resizing images that arrive as arrays."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch
from imagegen import write_image_folder
from test_cifar import write_cifar10
from test_stl10 import random_images, write_stl10

from lookalike.data.arrays import LabelledImages, resize_square
from lookalike.data.sources import dataset_kind, labelled_images, training_images
from lookalike.errors import LookalikeError


class Progress:
    """Records what a progress bar would be told."""

    def __init__(self) -> None:
        self.planned: list[int] = []
        self.done = 0

    def plan(self, count: int) -> None:
        self.planned.append(count)

    def advance(self, count: int) -> None:
        self.done += count


def test_the_kind_of_data_set_is_told_by_what_the_folder_holds(tmp_path: Path) -> None:
    write_stl10(tmp_path / "s" / "stl10_binary", "unlabeled", random_images(1))
    write_cifar10(tmp_path / "c" / "cifar-10-batches-py", per_batch=1)
    write_image_folder(tmp_path / "f", classes=1, per_class=1)

    assert dataset_kind(tmp_path / "s") == dataset_kind(tmp_path / "s" / "stl10_binary") == "stl10"
    assert dataset_kind(tmp_path / "c") == dataset_kind(tmp_path / "c" / "cifar-10-batches-py") == "cifar10"
    assert dataset_kind(tmp_path / "f") == "folder"


# Training


def test_training_on_a_folder_decodes_every_image(tmp_path: Path) -> None:
    files = write_image_folder(tmp_path, classes=2, per_class=2)
    progress = Progress()

    cache = training_images(tmp_path, 16, workers=0, on_plan=progress.plan, on_progress=progress.advance)

    assert cache.paths == files and cache.pixels.shape == (4, 3, 16, 16)
    assert progress.planned == [4] and progress.done == 4


def test_training_on_stl10_reads_the_unlabeled_split_only(tmp_path: Path) -> None:
    written = random_images(3, seed=3)
    folder = write_stl10(tmp_path / "stl10_binary", "unlabeled", written)
    (folder / "train_X.bin").write_bytes(b"not read")  # broken, and never looked at: training has no labels
    progress = Progress()

    cache = training_images(tmp_path, 48, on_plan=progress.plan, on_progress=progress.advance)

    assert cache.paths == [Path(f"{folder.resolve()}/unlabeled_X.bin#{index}") for index in range(3)]
    assert torch.equal(cache.pixels, resize_square(torch.from_numpy(written), 48))
    assert progress.planned == [3] and progress.done == 3


def test_training_at_the_native_size_keeps_the_pixels_exactly(tmp_path: Path) -> None:
    written = random_images(2, seed=4)
    write_stl10(tmp_path, "unlabeled", written)
    assert np.array_equal(training_images(tmp_path, 96).pixels.numpy(), written)


def test_repeated_images_in_a_data_set_are_kept_once(tmp_path: Path) -> None:
    written = random_images(4, seed=6)
    written[3] = written[1]
    folder = write_stl10(tmp_path, "unlabeled", written)

    cache = training_images(folder, 96)

    assert [path.name for path in cache.paths] == ["unlabeled_X.bin#0", "unlabeled_X.bin#1", "unlabeled_X.bin#2"]
    assert cache.duplicates == [Path(f"{folder.resolve()}/unlabeled_X.bin#3")]
    assert np.array_equal(cache.pixels.numpy(), written[:3])


def test_training_on_cifar10_reads_the_five_training_batches(tmp_path: Path) -> None:
    images, _ = write_cifar10(tmp_path, per_batch=2)
    progress = Progress()

    cache = training_images(tmp_path, 32, on_plan=progress.plan, on_progress=progress.advance)

    assert np.array_equal(cache.pixels.numpy(), images)
    assert [path.name for path in cache.paths[4:6]] == ["data_batch_3#0", "data_batch_3#1"]
    assert progress.planned == [10] and progress.done == 10


def test_a_data_set_too_large_to_cache_is_refused_before_it_is_read(tmp_path: Path) -> None:
    write_stl10(tmp_path, "unlabeled", random_images(3))
    progress = Progress()
    with pytest.raises(LookalikeError, match=r"caching 3 images at 512 px needs 0\.0 GiB, more than the 0\.0 GiB"):
        training_images(tmp_path, 512, max_bytes=2**20, on_plan=progress.plan)
    assert progress.planned == []


# Evaluation


def test_a_folders_labels_are_its_class_sub_folders(tmp_path: Path) -> None:
    files = write_image_folder(tmp_path, classes=3, per_class=2)

    labelled = labelled_images(tmp_path, "test")

    assert labelled.paths == files and labelled.pixels is None
    assert labelled.labels == ["class0", "class0", "class1", "class1", "class2", "class2"]
    assert labelled.source == str(tmp_path.resolve())


def test_a_file_outside_any_class_folder_is_named(tmp_path: Path) -> None:
    write_image_folder(tmp_path / "set", classes=2, per_class=1)
    stray = tmp_path / "set" / "stray.png"
    stray.write_bytes((tmp_path / "set" / "class0" / "img0.jpg").read_bytes())
    with pytest.raises(LookalikeError, match=rf"^{re.escape(str(stray.resolve()))}: is directly in .*one sub-folder "
                                             r"per class"):
        labelled_images(tmp_path / "set", "train")


def test_a_folder_of_one_class_cannot_be_evaluated(tmp_path: Path) -> None:
    write_image_folder(tmp_path, classes=1, per_class=3)
    with pytest.raises(LookalikeError, match=r"only one class \(class0\); evaluation needs at least two"):
        labelled_images(tmp_path, "test")


def test_data_sets_give_the_split_the_role_names(tmp_path: Path) -> None:
    write_stl10(tmp_path / "stl10_binary", "test", random_images(2), labels=[2, 7])
    write_stl10(tmp_path / "stl10_binary", "train", random_images(1), labels=[1])
    write_cifar10(tmp_path / "cifar", per_batch=1)

    assert labelled_images(tmp_path, "test").labels == ["bird", "horse"]
    assert labelled_images(tmp_path, "train").labels == ["airplane"]
    assert labelled_images(tmp_path / "cifar", "test").labels == ["truck"]
    assert labelled_images(tmp_path / "cifar", "train").pixels.shape == (5, 3, 32, 32)


def test_labelled_images_hold_exactly_one_of_paths_and_pixels() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        LabelledImages(["a"], "x")
    with pytest.raises(ValueError, match="exactly one"):
        LabelledImages(["a"], "x", paths=[Path("a.png")], pixels=torch.zeros((1, 3, 2, 2), dtype=torch.uint8))
    with pytest.raises(ValueError, match="2 labels for 1 images"):
        LabelledImages(["a", "b"], "x", paths=[Path("a.png")])


# Resizing


def test_resize_square_returns_pixels_of_the_right_size_as_they_are() -> None:
    pixels = torch.zeros((2, 3, 24, 24), dtype=torch.uint8)
    assert resize_square(pixels, 24) is pixels


def test_resize_square_scales_the_shorter_side_and_crops_the_centre() -> None:
    wide = torch.zeros((1, 3, 40, 120), dtype=torch.uint8)
    wide[:, 0, :, 40:60] = 255  # the central square's left half red, its right half blue
    wide[:, 2, :, 60:80] = 255
    wide[:, 1, :, :40] = 255  # green outside it, to be cropped away

    square = resize_square(wide, 10)

    assert square.shape == (1, 3, 10, 10) and square.dtype == torch.uint8
    assert (square[0, 0, :, :4] == 255).all() and (square[0, 2, :, 6:] == 255).all()
    assert (square[0, 1] == 0).all()


def test_resize_square_gives_the_same_result_in_any_chunk_size() -> None:
    pixels = torch.from_numpy(random_images(5, seed=7))
    assert torch.equal(resize_square(pixels, 40, chunk=2), resize_square(pixels, 40))
    assert resize_square(pixels, 128).shape == (5, 3, 128, 128)
