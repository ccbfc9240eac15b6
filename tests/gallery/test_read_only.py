"""A read-only gallery (what a web server opens) can search but never change or write anything."""

from __future__ import annotations

import pytest

from lookalike.errors import LookalikeError
from lookalike.gallery.embedded import Gallery


def test_read_only_gallery_reads_and_writes_no_file(committed, unit_vectors, snapshot):
    before = snapshot(committed)

    with Gallery.open(committed, read_only=True) as gallery:
        ids = [image.id for image in gallery.images()]
        assert len(gallery) == 3 and gallery.info.count == 3
        assert gallery.find("/images/0002.jpg").id == ids[2]
        assert gallery.get(ids[:2]) == gallery.images()[:2]
        assert gallery.vectors(ids).shape == (3, 8)
        assert [len(row) for row in gallery.search(unit_vectors(2), 3)] == [3, 3]
        gallery.commit()  # nothing pending: nothing to do

    assert snapshot(committed) == before


@pytest.mark.parametrize(
    "change",
    [
        lambda gallery, records, vectors, model_id: gallery.add(records, vectors, model_id=model_id),
        lambda gallery, records, vectors, model_id: gallery.remove(["/images/0001.jpg"]),
        lambda gallery, records, vectors, model_id: gallery.update_mtime("/images/0001.jpg", 5),
        lambda gallery, records, vectors, model_id: gallery.set_threshold(0.5),
        lambda gallery, records, vectors, model_id: gallery.rebuild("hnsw"),
    ],
    ids=["add", "remove", "update_mtime", "set_threshold", "rebuild"],
)
def test_read_only_gallery_refuses_every_change(committed, model_id, make_records, unit_vectors, snapshot, change):
    before = snapshot(committed)

    with Gallery.open(committed, read_only=True) as gallery:
        with pytest.raises(LookalikeError, match="read-only") as refusal:
            change(gallery, make_records(1, start=9), unit_vectors(1), model_id)
        assert str(committed) in str(refusal.value)
        assert len(gallery) == 3

    assert snapshot(committed) == before


def test_reader_sees_only_what_a_concurrent_writer_has_committed(committed, model_id, make_records, unit_vectors):
    with Gallery.open(committed) as writer:
        writer.add(make_records(2, start=3), unit_vectors(2), model_id=model_id)

        with Gallery.open(committed, read_only=True) as reader:
            assert len(reader) == 3 and len(reader.images()) == 3

        writer.commit()

        with Gallery.open(committed, read_only=True) as reader:
            assert len(reader) == 5 and len(reader.images()) == 5


def test_refresh_brings_a_long_lived_reader_up_to_the_latest_commit(committed, model_id, make_records, unit_vectors):
    with Gallery.open(committed, read_only=True) as reader:
        assert reader.refresh() is False
        with Gallery.open(committed) as writer:
            added = writer.add(make_records(2, start=3), unit_vectors(2), model_id=model_id)
            writer.commit()
            writer.set_threshold(0.3)
        assert len(reader) == 3 and reader.info.threshold is None  # still what it opened

        assert reader.refresh() is True
        assert len(reader) == 5 and reader.info.threshold == 0.3
        assert reader.vectors(added).shape == (2, 8)
        assert [hit.image.id for hit in reader.search(reader.vectors(added[:1]), 1)[0]] == added[:1]
        assert reader.refresh() is False
