"""The session behind the web app: shared by threads, it answers correctly while enrolments and other writers commit."""

from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor

from imagegen import write_image_folder

import lookalike
from lookalike.embed import EmbedSettings
from lookalike.gallery import Gallery
from lookalike.images import Encoded
from lookalike.session import Session

SETTINGS = EmbedSettings(workers=0, precision="fp32")


def test_concurrent_searches_and_enrolments_leave_a_consistent_gallery(writable_gallery, indexed, tmp_path):
    images = sorted(indexed[0].rglob("img*.*"))
    people = write_image_folder(tmp_path / "people", classes=2, per_class=3)
    service = Session(writable_gallery, settings=SETTINGS)
    try:
        def search(path):
            return path.name, service.search(Encoded(path.name, path.read_bytes()), 3)[0].image.path

        def enrol(path):
            return service.enrol(path.parent.name, Encoded(path.name, path.read_bytes())).identity

        with ThreadPoolExecutor(8) as pool:
            searches = [pool.submit(search, path) for path in images * 3]
            enrolments = [pool.submit(enrol, path) for path in people]
            top_hits = [future.result() for future in searches]
            enrolled = [future.result() for future in enrolments]

        assert all(top.endswith(name) for name, top in top_hits)  # every image is still its own top hit
        assert sorted(enrolled) == ["class0"] * 3 + ["class1"] * 3
        assert service.info().info.count == 12 + 6
        assert service.identities() == {"class0": 3, "class1": 3}
    finally:
        service.close()
    with Gallery.open(writable_gallery, read_only=True) as reopened:  # opening checks that index and rows agree
        assert len(reopened) == 18


def test_the_service_sees_what_another_writer_commits_while_it_runs(writable_gallery, indexed, tmp_path):
    service = Session(writable_gallery, settings=SETTINGS)
    try:
        extra = tmp_path / "extra"
        shutil.copytree(indexed[0] / "class2", extra)
        with lookalike.open(writable_gallery, settings=SETTINGS) as other:  # as `lookalike index` elsewhere would
            other.index(extra)
        query = extra / "img3.png"
        assert service.info().info.count == 16
        twins = {hit.image.path for hit in service.search(Encoded(query.name, query.read_bytes()), 2)}
        assert twins == {str(query.resolve()), str(indexed[0] / "class2" / "img3.png")}  # the copy is found too
        with Gallery.open(writable_gallery) as other:
            other.set_threshold(0.25)
        assert service.info().info.threshold == 0.25
    finally:
        service.close()
