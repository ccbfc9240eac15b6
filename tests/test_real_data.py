"""The issue's acceptance run on real photos from ../shared/data, skipped with a reason where that data is absent."""

import pytest
from awkward import write_awkward_folder
from imagegen import SHARED_DATA

from lookalike.text import printable

FLOWERS = SHARED_DATA / "flowers_recognition"

pytestmark = pytest.mark.skipif(not FLOWERS.is_dir(), reason=f"real data not present at {FLOWERS}")


def test_flowers_index_and_search_with_awkward_files_mixed_in(tmp_path, cli):
    """The commands run in this process (a process of their own would only add Python's start-up, three times)."""
    lookalike = cli
    # A view of the real folder (links, not copies) with the awkward corpus (tests/awkward.py) added as one more
    # folder: its valid odd images must be indexed beside the photos, and each broken file or link named.
    folder = tmp_path / "flowers"
    originals = sorted(p for p in FLOWERS.rglob("*") if p.suffix.lower() in {".jpg", ".jpeg", ".png"})
    for original in originals:
        link = folder / original.relative_to(FLOWERS)
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(original)
    valid, broken = write_awkward_folder(folder / "awkward")

    # A random ResNet-18 at 64 px: this test is about the files, and it embeds 750 photos several times faster than
    # the default pretrained network at 224 px (whose own test is tests/models/test_starts.py).
    lookalike("create-model", tmp_path / "M", "--image-size", "64")
    indexed = lookalike("index", folder, "--gallery", tmp_path / "G", "--model", tmp_path / "M")
    found, added = len(originals) + len(valid) + len(broken), len(originals) + len(valid)
    assert f"{found} images found: {added} added, 0 updated, 0 unchanged, {len(broken)} skipped" in indexed.stdout
    warnings = indexed.stderr.strip().splitlines()
    assert len(warnings) == len(broken) and all(line.startswith("warning: skipped") for line in warnings)
    assert all(any(printable(str(path)) + ": " in line for line in warnings) for path in broken)

    query = (folder / "sunflower").resolve()
    query = sorted(query.iterdir())[7]
    searched = lookalike("search", query, "--gallery", tmp_path / "G", "-k", "5")
    rank, score, path = searched.stdout.splitlines()[2].split("\t")
    assert (rank, path) == ("1", str(query)) and float(score) >= 0.99
