"""`lookalike` run over a folder of awkward files (tests/awkward.py): every valid image is used, every unusable file
or link is named on one `warning: skipped` line with its reason, and no name can break a line of the output."""

from __future__ import annotations

import csv
import io

import pytest
from awkward import BROKEN, UNSAFE_NAMES, VALID, write_awkward_folder

from lookalike.gallery import Gallery
from lookalike.text import printable

ARGS = ("--workers", 0, "--precision", "fp32")


@pytest.fixture
def awkward(tmp_path):
    return write_awkward_folder(tmp_path / "awkward")


def _warned(err: str, broken) -> None:
    """One warning line per unusable file, each naming it, and nothing else on stderr."""
    lines = err.strip().splitlines()
    assert "Traceback" not in err and all(line.startswith("warning: skipped ") for line in lines), err
    assert sorted(lines) == sorted(line for path in broken for line in lines if printable(str(path)) + ": " in line)
    assert len(lines) == len(broken)


def test_the_corpus_holds_at_least_thirty_kinds():
    assert len(VALID) + len(BROKEN) >= 30


def test_index_then_search_the_awkward_folder(lookalike_main, awkward, tiny_model, tmp_path):
    valid, broken = awkward
    gallery = tmp_path / "g"
    code, out, err = lookalike_main("index", valid[0].parent, "--gallery", gallery, "--model", tiny_model, *ARGS)
    assert code == 0, err
    assert f"{len(valid) + len(broken)} images found: {len(valid)} added, 0 updated, 0 unchanged, " \
           f"{len(broken)} skipped" in out
    _warned(err, broken)
    with Gallery.open(gallery, read_only=True) as store:
        assert sorted(image.path for image in store.images()) == sorted(map(str, valid))
        assert all(store.find(str(path)) is not None for path in valid)  # names that are not UTF-8 included

    code, out, err = lookalike_main("search", valid[0].parent, "--gallery", gallery, "-k", 3, *ARGS)
    assert code == 0, err
    _warned(err, broken)
    queries = [line for line in out.splitlines() if line.startswith("# query ")]
    assert sorted(queries) == sorted(f"# query {printable(str(path))}" for path in valid)
    rows = [row for row in csv.reader(io.StringIO(out), delimiter="\t") if not row[0].startswith("# query")]
    assert len(rows) == len(valid) * 4 and all(len(row) == 3 for row in rows)  # a header and 3 hits per query


def test_train_on_the_awkward_folder(lookalike_main, awkward, tmp_path):
    valid, broken = awkward
    code, out, err = lookalike_main("train", valid[0].parent, "--out", tmp_path / "m", "--epochs", 1,
                                    "--image-size", 32, "--head", "32,16", "--batch-size", 4, *ARGS)
    assert code == 0, err
    assert f"{len(broken)} unreadable" in err and "1 duplicates left out" in err  # the link to rgba.png
    _warned("\n".join(line for line in err.splitlines() if line.startswith("warning:")), broken)


def test_enroll_then_recognize_the_awkward_folder(lookalike_main, awkward, tiny_model, tmp_path):
    valid, broken = awkward
    gallery = tmp_path / "g"
    unnamed = [path for path in valid if path.name in UNSAFE_NAMES]
    no_images = valid[0].parent / "folder.png"  # a sub-folder, so an identity, with nothing in it
    code, out, err = lookalike_main("enroll", valid[0].parent, "--gallery", gallery, "--model", tiny_model, *ARGS)
    assert code == 0, err
    _warned(err, [*broken, *unnamed, no_images])
    assert "the identity name" in err
    named = [path for path in valid if path not in unnamed]
    assert f"enrolled {len({path.stem for path in named})} identities ({len(named)} images)" in out

    code, out, err = lookalike_main("recognize", valid[0].parent, "--gallery", gallery, "--threshold", 0.5, *ARGS)
    assert code == 0, err
    _warned(err, broken)
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["file", "identity", "distance"] and len(rows) == len(valid) + 1
    assert sorted(row[0] for row in rows[1:]) == sorted(printable(str(path)) for path in valid)
