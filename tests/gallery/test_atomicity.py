"""Commits are all-or-nothing across the index file and SQLite, whatever moment a crash picks."""

from __future__ import annotations

import shutil
import sqlite3

import numpy as np
import pytest

from lookalike.gallery.catalog import Catalog
from lookalike.gallery.embedded import Gallery
from lookalike.gallery.vector_index import VectorIndex


def index_files(folder) -> list[str]:
    return sorted(path.name for path in folder.glob("vectors-*.faiss"))


def test_crash_between_writing_the_index_and_committing_sqlite(
    new_gallery, folder, tmp_path, model_id, make_records, unit_vectors, monkeypatch
):
    gallery = new_gallery()
    committed = unit_vectors(3)
    gallery.add(make_records(3), committed, model_id=model_id)
    gallery.commit()
    gallery.add(make_records(2, start=3), unit_vectors(2), model_id=model_id)
    crashed = tmp_path / "as-left-by-the-crash"

    def crash(catalog: Catalog, generation: int) -> None:
        shutil.copytree(folder, crashed)  # the disk exactly as a power cut at this moment would leave it
        raise OSError("simulated crash")

    monkeypatch.setattr(Catalog, "commit", crash)
    with pytest.raises(OSError, match="simulated crash"):
        gallery.commit()
    monkeypatch.undo()
    assert index_files(crashed) == ["vectors-0.faiss", "vectors-1.faiss", "vectors-2.faiss"]  # new file written
    gallery.close()

    for survivor in (folder, crashed):
        with Gallery.open(survivor) as reopened:
            assert [image.path for image in reopened.images()] == [record.path for record in make_records(3)]
            np.testing.assert_array_equal(reopened.vectors([image.id for image in reopened.images()]), committed)


def test_commit_after_a_crash_reuses_the_orphaned_generation(
    new_gallery, folder, model_id, make_records, unit_vectors, monkeypatch
):
    gallery = new_gallery()
    gallery.add(make_records(3), unit_vectors(3), model_id=model_id)

    def crash(catalog: Catalog, generation: int) -> None:
        raise OSError("simulated crash")

    monkeypatch.setattr(Catalog, "commit", crash)
    with pytest.raises(OSError):
        gallery.commit()
    monkeypatch.undo()
    gallery.close()

    with Gallery.open(folder) as reopened:
        assert len(reopened) == 0
        reopened.add(make_records(4), unit_vectors(4), model_id=model_id)
        reopened.commit()
    with Gallery.open(folder) as reopened:
        assert len(reopened) == 4 and len(reopened.images()) == 4


def test_crash_while_writing_the_index_leaves_the_last_commit(
    new_gallery, folder, model_id, make_records, unit_vectors, monkeypatch
):
    gallery = new_gallery()
    gallery.add(make_records(3), unit_vectors(3), model_id=model_id)
    gallery.commit()
    gallery.remove(["/images/0001.jpg"])

    def crash(index: VectorIndex, path) -> None:
        path.write_bytes(b"half an index")
        raise OSError("disk full")

    monkeypatch.setattr(VectorIndex, "save", crash)
    with pytest.raises(OSError, match="disk full"):
        gallery.commit()
    monkeypatch.undo()
    gallery.close()

    with Gallery.open(folder) as reopened:
        assert len(reopened) == 3 and len(reopened.images()) == 3


def test_leftover_temporary_files_do_not_break_open_and_are_cleaned_by_commit(
    new_gallery, folder, model_id, make_records, unit_vectors
):
    new_gallery().close()
    (folder / ".vectors-1.faiss.k2j3h4.tmp").write_bytes(b"half an index")
    (folder / ".gallery.json.x8y9.tmp").write_text("{half")

    with Gallery.open(folder) as gallery:
        gallery.add(make_records(1), unit_vectors(1), model_id=model_id)
        gallery.commit()

    assert not (folder / ".vectors-1.faiss.k2j3h4.tmp").exists()
    with Gallery.open(folder) as reopened:
        assert len(reopened) == 1


def test_commit_keeps_the_current_and_the_previous_generation_only(
    new_gallery, folder, model_id, make_records, unit_vectors
):
    gallery = new_gallery()
    for round_ in range(4):
        gallery.add(make_records(1, start=round_), unit_vectors(1), model_id=model_id)
        gallery.commit()

    assert index_files(folder) == ["vectors-3.faiss", "vectors-4.faiss"]


def test_commit_without_changes_writes_nothing(new_gallery, folder, snapshot):
    gallery = new_gallery()
    before = snapshot(folder)

    gallery.commit()

    assert snapshot(folder) == before


def test_a_failed_change_discards_all_pending_changes(new_gallery, model_id, make_records, unit_vectors, monkeypatch):
    gallery = new_gallery()
    gallery.add(make_records(2), unit_vectors(2), model_id=model_id)
    gallery.commit()
    gallery.add(make_records(1, start=2), unit_vectors(1), model_id=model_id)

    def broken(index: VectorIndex, ids: np.ndarray) -> None:
        raise MemoryError("out of memory")

    monkeypatch.setattr(VectorIndex, "remove", broken)
    with pytest.raises(MemoryError):
        gallery.remove(["/images/0000.jpg"])
    monkeypatch.undo()

    assert len(gallery) == 2 and [image.path for image in gallery.images()] == ["/images/0000.jpg", "/images/0001.jpg"]


def test_a_writer_that_closes_leaves_every_committed_row_in_the_database_file(
    committed, model_id, make_records, unit_vectors, tmp_path
):
    """A server's read-only handle that has read since the writer's first commit keeps the WAL open, so the writer
    cannot leave WAL mode, and a read-only handle never checkpoints: the writer must move its rows out of the WAL
    itself, or a copy of gallery.sqlite alone would miss them after everyone closed."""
    reader = Gallery.open(committed, read_only=True)
    writer = Gallery.open(committed)
    writer.add(make_records(50, start=3), unit_vectors(50), model_id=model_id)
    writer.commit()
    assert reader.refresh() and len(reader) == 53  # the server sees the new rows, through the WAL
    writer.close()
    reader.close()
    copy = tmp_path / "copy.sqlite"
    shutil.copyfile(committed / "gallery.sqlite", copy)
    with sqlite3.connect(copy) as db:
        assert db.execute("SELECT count(*) FROM images").fetchone() == (53,)


def test_a_gallery_is_created_whole_in_one_rename(folder, model_id, monkeypatch):
    def crash(staging):
        assert (staging / "gallery.json").is_file() and not folder.exists()  # made aside, not yet in place
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        Gallery.create(folder, model_id=model_id, dim=8, fill=crash)
    assert not folder.exists() and not list(folder.parent.glob(".gallery.creating-*"))

    abandoned = folder.parent / ".gallery.creating-999999999"  # a pid no process has: its creator was killed
    abandoned.mkdir()
    folder.mkdir()  # an empty folder made by the user is a fine place
    with Gallery.create(folder, model_id=model_id, dim=8, fill=lambda staging: (staging / "extra").write_text("x")):
        pass
    assert (folder / "extra").read_text() == "x" and Gallery.exists(folder) and not abandoned.exists()


def test_names_that_are_not_utf8_are_stored_exactly(new_gallery, folder, model_id, unit_vectors):
    import os

    from lookalike.gallery.records import ImageRecord

    odd = os.fsdecode(b"/photos/caf\xe9/\xff\xfe.jpg")  # Latin-1 bytes, as an old camera or archive may leave
    records = [ImageRecord(odd, 1, 1, "0" * 64, label=os.fsdecode(b"caf\xe9")), ImageRecord("/photos/ok.jpg", 1, 1,
                                                                                            "0" * 64)]
    gallery = new_gallery()
    gallery.add(records, unit_vectors(2), model_id=model_id)
    gallery.commit()
    gallery.close()
    with Gallery.open(folder) as reopened:
        stored = reopened.find(odd)
        assert stored is not None and stored.path == odd and stored.label == os.fsdecode(b"caf\xe9")
        assert os.fsencode(stored.path) == b"/photos/caf\xe9/\xff\xfe.jpg"
        assert [hit.image.path for hit in reopened.search(unit_vectors(1), 2)[0]].count(odd) == 1
        assert reopened.remove([odd]) == 1
        reopened.commit()
        assert [image.path for image in reopened.images()] == ["/photos/ok.jpg"]
