"""The decoded-image cache training draws its batches from."""

import pytest
import torch
from imagegen import write_image_folder, write_truncated_jpeg

from lookalike.data import find_images
from lookalike.data.cache import cache_images
from lookalike.errors import LookalikeError


def test_cache_keeps_one_copy_of_identical_files_and_reports_bad_ones(tmp_path):
    files = write_image_folder(tmp_path, classes=2, per_class=3)
    copy = tmp_path / "class1" / "zz-copy.jpg"
    copy.write_bytes(files[0].read_bytes())
    write_truncated_jpeg(tmp_path / "class1" / "zz-truncated.jpg")
    cache = cache_images(find_images(tmp_path), 16, workers=0)
    assert cache.paths == files and len(cache) == 6
    assert cache.pixels.shape == (6, 3, 16, 16) and cache.pixels.dtype == torch.uint8
    assert cache.duplicates == [copy.resolve()]
    assert [bad.path.name for bad in cache.skipped] == ["zz-truncated.jpg"]


def test_subset_copies_the_chosen_images(tmp_path):
    cache = cache_images(write_image_folder(tmp_path, classes=1, per_class=4), 8, workers=0)
    part = cache.subset([3, 1])
    assert part.paths == [cache.paths[3], cache.paths[1]]
    assert torch.equal(part.pixels[0], cache.pixels[3])
    part.pixels.zero_()
    assert cache.pixels.any()
    assert len(cache.subset([])) == 0


def test_a_cache_too_large_is_refused_before_decoding(tmp_path):
    files = write_image_folder(tmp_path, classes=1, per_class=2)
    with pytest.raises(LookalikeError, match="needs .* GiB"):
        cache_images(files, 1024, max_bytes=2**20)
