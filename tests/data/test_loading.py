from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from lookalike.data import DecodedBatch, file_sha256, iter_decoded_batches, loading

SaveImage = Callable[..., Path]


def colour_for(index: int) -> tuple[int, int, int]:
    return (index * 20, 255 - index * 20, 100)


@pytest.fixture
def solid_images(save_image: SaveImage) -> list[Path]:
    """Seven solid images whose colour encodes their position."""
    return [save_image(f"{index}.png", Image.new("RGB", (12, 9), colour_for(index))) for index in range(7)]


@pytest.fixture
def varied_images(save_image: SaveImage, tmp_path: Path) -> list[Path]:
    """Noise images of several sizes and formats, with two bad files among them."""
    rng = np.random.default_rng(0)
    paths = []
    for index, suffix in enumerate([".png", ".jpg", ".bmp", ".webp", ".png", ".jpg", ".tif", ".gif"]):
        noise = rng.integers(0, 256, (20 + index, 30 - index, 3), dtype=np.uint8)
        paths.append(save_image(f"{index}{suffix}", Image.fromarray(noise)))
    (tmp_path / "text.jpg").write_text("not an image")
    paths.insert(3, tmp_path / "text.jpg")
    paths.insert(7, tmp_path / "missing.png")
    return paths


def test_batches_keep_input_order_and_size(solid_images: list[Path]) -> None:
    batches = list(iter_decoded_batches(solid_images, 4, batch_size=3, workers=0))

    assert [batch.indices for batch in batches] == [[0, 1, 2], [3, 4, 5], [6]]
    for batch in batches:
        assert batch.pixels.dtype == torch.uint8
        assert batch.pixels.shape == (len(batch.indices), 3, 4, 4)
        assert batch.pixels.is_contiguous()
        assert batch.skipped == []
        for slot, index in enumerate(batch.indices):
            expected = torch.tensor(colour_for(index), dtype=torch.uint8).view(3, 1, 1).expand(3, 4, 4)
            assert torch.equal(batch.pixels[slot], expected)


def test_hashes_are_the_files_sha256(solid_images: list[Path]) -> None:
    batches = list(iter_decoded_batches(solid_images, 4, batch_size=3, workers=0))
    hashes = [digest for batch in batches for digest in batch.sha256]
    assert hashes == [file_sha256(path) for path in solid_images]


def test_bad_files_are_reported_and_the_rest_decoded(solid_images: list[Path], tmp_path: Path) -> None:
    (tmp_path / "broken.jpg").write_text("plain text, not a picture")
    paths = solid_images[:2] + [tmp_path / "broken.jpg"] + solid_images[2:4] + [tmp_path / "gone.png"]

    batches = list(iter_decoded_batches(paths, 4, batch_size=3, workers=0))

    assert [batch.indices for batch in batches] == [[0, 1], [3, 4]]
    assert [[(failure.path, failure.reason) for failure in batch.skipped] for batch in batches] == [
        [(tmp_path / "broken.jpg", "not an image")],
        [(tmp_path / "gone.png", "file not found")],
    ]
    assert batches[1].sha256 == [file_sha256(solid_images[2]), file_sha256(solid_images[3])]


def test_a_batch_where_every_file_failed_is_still_yielded(solid_images: list[Path], tmp_path: Path) -> None:
    missing = [tmp_path / f"missing{index}.png" for index in range(2)]

    batches = list(iter_decoded_batches([*missing, solid_images[0]], 5, batch_size=2, workers=0))

    assert batches[0].indices == [] and batches[0].sha256 == []
    assert batches[0].pixels.shape == (0, 3, 5, 5) and batches[0].pixels.dtype == torch.uint8
    assert [failure.path for failure in batches[0].skipped] == missing
    assert batches[1].indices == [2]


def test_worker_processes_give_the_same_batches_as_in_process(varied_images: list[Path]) -> None:
    in_process = list(iter_decoded_batches(varied_images, 16, batch_size=3, workers=0))
    in_workers = list(iter_decoded_batches(varied_images, 16, batch_size=3, workers=2))

    assert len(in_process) == len(in_workers) == 4
    for alone, parallel in zip(in_process, in_workers):
        assert alone.indices == parallel.indices
        assert torch.equal(alone.pixels, parallel.pixels)
        assert alone.sha256 == parallel.sha256
        assert [str(failure) for failure in alone.skipped] == [str(failure) for failure in parallel.skipped]
    assert [str(failure.path.name) for batch in in_workers for failure in batch.skipped] == ["text.jpg", "missing.png"]


def record_decoding_processes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Make decoding note its process id; a worker process writes to its own copy of the list, not ours."""
    processes: list[int] = []
    decode = loading.decode_regions

    def recording_decode(*args: object, **kwargs: object) -> list:
        processes.append(os.getpid())
        return decode(*args, **kwargs)

    monkeypatch.setattr(loading, "decode_regions", recording_decode)
    return processes


def test_workers_are_used_when_there_are_several_batches(
    solid_images: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    processes = record_decoding_processes(monkeypatch)
    batches = list(iter_decoded_batches(solid_images, 4, batch_size=3, workers=2))
    assert sum(len(batch.indices) for batch in batches) == 7
    assert processes == []


def test_a_single_batch_is_decoded_in_process(solid_images: list[Path], monkeypatch: pytest.MonkeyPatch) -> None:
    processes = record_decoding_processes(monkeypatch)
    batches = list(iter_decoded_batches(solid_images, 4, batch_size=8, workers=2))
    assert [batch.indices for batch in batches] == [list(range(7))]
    assert processes == [os.getpid()] * 7


def test_no_paths_give_no_batches() -> None:
    assert list(iter_decoded_batches([], 8)) == []


def test_pin_memory_without_an_accelerator_is_quietly_ignored(solid_images: list[Path]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        batches = list(iter_decoded_batches(solid_images, 4, batch_size=3, workers=0, pin_memory=True))
    assert [batch.indices for batch in batches] == [[0, 1, 2], [3, 4, 5], [6]]


def test_pinning_a_batch_keeps_everything_but_the_pixel_storage() -> None:
    batch = DecodedBatch(indices=[0], pixels=torch.zeros(1, 3, 2, 2, dtype=torch.uint8), sha256=["x"], skipped=[])
    if not torch.accelerator.is_available():
        pytest.skip("pinning memory needs an accelerator")
    pinned = batch.pin_memory()
    assert pinned.pixels.is_pinned()
    assert (pinned.indices, pinned.sha256) == (batch.indices, batch.sha256)


@pytest.mark.parametrize(
    ("options", "message"),
    [({"batch_size": 0}, "batch_size"), ({"workers": -1}, "workers"), ({"size": 0}, "size")],
)
def test_invalid_arguments_are_refused_at_once(options: dict[str, int], message: str) -> None:
    arguments = {"size": 4, **options}
    with pytest.raises(ValueError, match=message):
        iter_decoded_batches([], **arguments)
