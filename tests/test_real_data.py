"""The issue's acceptance run on real photos from ../shared/data, skipped with a reason where that data is absent."""

import subprocess
import sys

import pytest

from imagegen import SHARED_DATA, write_truncated_jpeg

FLOWERS = SHARED_DATA / "flowers_recognition"

pytestmark = pytest.mark.skipif(not FLOWERS.is_dir(), reason=f"real data not present at {FLOWERS}")


def lookalike(*args):
    return subprocess.run([sys.executable, "-m", "lookalike", *map(str, args)], capture_output=True, text=True,
                          timeout=600)


def test_flowers_index_and_search_with_bad_files_mixed_in(tmp_path):
    # A view of the real folder (links, not copies) with a truncated JPEG and a text file named x.jpg added.
    folder = tmp_path / "flowers"
    originals = sorted(p for p in FLOWERS.rglob("*") if p.suffix.lower() in {".jpg", ".jpeg", ".png"})
    for original in originals:
        link = folder / original.relative_to(FLOWERS)
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(original)
    write_truncated_jpeg(folder / "daisy" / "truncated.jpg")
    (folder / "rose" / "x.jpg").write_text("this is a text file")

    indexed = lookalike("index", folder, "--gallery", tmp_path / "G")
    assert indexed.returncode == 0, indexed.stderr
    assert f"{len(originals) + 2} images found: {len(originals)} added" in indexed.stdout
    assert "2 skipped" in indexed.stdout
    warnings = [line for line in indexed.stderr.splitlines() if line.startswith("warning: skipped")]
    assert len(warnings) == 2
    assert any("truncated.jpg" in line for line in warnings) and any("x.jpg" in line for line in warnings)

    query = (folder / "sunflower").resolve()
    query = sorted(query.iterdir())[7]
    searched = lookalike("search", query, "--gallery", tmp_path / "G", "-k", "5")
    assert searched.returncode == 0, searched.stderr
    rank, score, path = searched.stdout.splitlines()[2].split("\t")
    assert (rank, path) == ("1", str(query)) and float(score) >= 0.99
