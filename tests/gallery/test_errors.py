"""Every way a folder can fail to be a usable gallery is a ``LookalikeError`` that names the folder."""

from __future__ import annotations

import json
import sqlite3

import pytest

from lookalike.errors import LookalikeError
from lookalike.gallery.embedded import Gallery


def refusal(action) -> str:
    with pytest.raises(LookalikeError) as raised:
        action()
    return str(raised.value)


def test_open_a_missing_folder(folder):
    message = refusal(lambda: Gallery.open(folder))

    assert str(folder) in message and "does not exist" in message


def test_open_a_folder_that_is_not_a_gallery(folder):
    folder.mkdir()
    (folder / "holiday.jpg").write_bytes(b"")

    message = refusal(lambda: Gallery.open(folder))

    assert str(folder) in message and "not a lookalike gallery" in message
    assert not Gallery.exists(folder)


def test_open_a_file(tmp_path):
    path = tmp_path / "gallery"
    path.write_text("")

    assert str(path) in refusal(lambda: Gallery.open(path))


@pytest.mark.parametrize(
    "text, complaint",
    [
        ("{not json", "cannot read gallery.json"),
        ("[1, 2]", "invalid"),
        ('{"format_version": 1}', "invalid"),
    ],
    ids=["unparsable", "not-an-object", "fields-missing"],
)
def test_open_with_a_corrupt_manifest(committed, text, complaint):
    (committed / "gallery.json").write_text(text)

    message = refusal(lambda: Gallery.open(committed))

    assert str(committed) in message and complaint in message


@pytest.mark.parametrize(
    "field, value, complaint",
    [
        ("format_version", 99, "format version 99 is not supported"),
        ("metric", "l2", "metric 'l2' is not supported"),
        ("index", "annoy", "index kind 'annoy'"),
        ("dim", "8", "'dim' has the wrong type"),
        ("threshold", True, "'threshold' has the wrong type"),
    ],
)
def test_open_with_an_unsupported_manifest(committed, field, value, complaint):
    manifest = json.loads((committed / "gallery.json").read_text())
    manifest[field] = value
    (committed / "gallery.json").write_text(json.dumps(manifest))

    message = refusal(lambda: Gallery.open(committed))

    assert str(committed) in message and complaint in message


def test_open_when_sqlite_and_index_disagree(committed):
    with sqlite3.connect(committed / "gallery.sqlite") as database:
        database.execute("DELETE FROM images WHERE path = '/images/0001.jpg'")
    database.close()

    message = refusal(lambda: Gallery.open(committed))

    assert str(committed) in message and "inconsistent" in message and "2 images" in message


def test_open_when_the_index_file_is_missing(committed):
    (committed / "vectors-1.faiss").unlink()

    message = refusal(lambda: Gallery.open(committed))

    assert str(committed) in message and "vectors-1.faiss" in message


def test_open_when_the_index_file_is_garbage(committed):
    (committed / "vectors-1.faiss").write_bytes(b"\x00not an index at all" * 10)

    message = refusal(lambda: Gallery.open(committed, read_only=True))

    assert str(committed) in message and "vectors-1.faiss" in message


@pytest.mark.parametrize("content", [b"this is not a database" * 100, b""], ids=["garbage", "empty"])
def test_open_when_sqlite_is_damaged(committed, content):
    (committed / "gallery.sqlite").write_bytes(content)

    message = refusal(lambda: Gallery.open(committed))

    assert str(committed) in message and "gallery.sqlite" in message


def test_create_on_an_existing_gallery(committed, model_id):
    message = refusal(lambda: Gallery.create(committed, model_id=model_id, dim=8))

    assert str(committed) in message and "already holds a gallery" in message


def test_create_in_a_non_empty_folder(folder, model_id):
    folder.mkdir()
    (folder / "notes.txt").write_text("keep me")

    message = refusal(lambda: Gallery.create(folder, model_id=model_id, dim=8))

    assert str(folder) in message and "not an empty folder" in message
    assert sorted(path.name for path in folder.iterdir()) == ["notes.txt"]


def test_create_in_an_empty_existing_folder(folder, model_id):
    folder.mkdir()

    with Gallery.create(folder, model_id=model_id, dim=8) as gallery:
        assert len(gallery) == 0


def test_create_with_bad_arguments(folder):
    with pytest.raises(ValueError, match="model_id"):
        Gallery.create(folder, model_id="", dim=8)
    with pytest.raises(ValueError, match="dim"):
        Gallery.create(folder, model_id="m", dim=0)
    with pytest.raises(ValueError, match="effort"):
        Gallery.create(folder, model_id="m", dim=8, ef_search=0)
    assert not folder.exists()
