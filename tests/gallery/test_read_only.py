"""A read-only folder gallery (what a web server opens) writes no file (refusals are in test_store_contract.py)."""

from __future__ import annotations

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
