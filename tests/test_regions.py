"""A preprocessing stage may find several regions in an image, or none: each region is a record of its own, keyed
by its file and its name, through indexing, search, recognition and training; a file with none is skipped with the
stage's reason. Galleries written before regions existed are read as they are and given the column by their first
writer, ids never reused."""

import sqlite3
from dataclasses import dataclass

import numpy as np
import pytest
from PIL import Image

import lookalike
from lookalike.embed import EmbedSettings
from lookalike.errors import LookalikeError
from lookalike.gallery import Gallery, ImageRecord
from lookalike.models import EncoderConfig
from lookalike.preprocess import NothingFound, Region, register_stage, stage_names

SETTINGS = EmbedSettings(workers=0, precision="fp32")


@dataclass(frozen=True)
class Halves:
    """The left and right halves of a wide image as two regions; nothing in a tall one."""

    name: str = "halves-for-tests"
    views: str | None = None

    def draft_size(self, size: int) -> None:
        return None

    def regions(self, image: Image.Image, size: int) -> list[Region]:
        width, height = image.size
        if width < height:
            raise NothingFound("no halves in a tall image")
        return [Region(side, image.resize((size, size), box=box))
                for side, box in (("left", (0, 0, width // 2, height)), ("right", (width // 2, 0, width, height)))]


if Halves.name not in stage_names():
    register_stage(Halves())


def _photos(folder):
    folder.mkdir()
    rng = np.random.default_rng(0)
    for number in range(3):
        Image.fromarray(rng.integers(0, 256, (20, 40, 3), dtype=np.uint8)).save(folder / f"wide{number}.png")
    Image.fromarray(rng.integers(0, 256, (40, 20, 3), dtype=np.uint8)).save(folder / "tall.png")
    return folder


@pytest.fixture
def model():
    config = EncoderConfig.for_backbone("resnet18", image_size=32, head=(32, 16), preprocess=Halves.name)
    return lookalike.create_model(config, settings=SETTINGS)


def test_each_region_is_a_record_searched_and_recognised_on_its_own(tmp_path, model):
    photos = _photos(tmp_path / "photos")
    with lookalike.open(tmp_path / "g", model, settings=SETTINGS) as session:
        report = session.index(photos)
        assert (report.found, report.added) == (4, 3)
        assert [(bad.path.name, bad.reason) for bad in report.skipped] == [("tall.png", "no halves in a tall image")]
        assert session.index(photos).unchanged == 3  # nothing is embedded again
        query = (photos / "wide1.png").resolve()
        results = session.search_all(query, k=2, exclude_self=True).results
        assert [result.query for result in results] == [f"{query}#left", f"{query}#right"]
        for result in results:  # a region is not its own hit; the other half of its photo may be
            side = str(result.query).rsplit("#", 1)[1]
            assert (str(query), side) not in {(hit.image.path, hit.image.region) for hit in result.hits}
        pixels = np.asarray(Image.open(query))
        assert len(model.embed(pixels)) == 2
        assert session.enrol("wendy", photos / "wide2.png").regions == 2
        assert session.identities() == {"wendy": 1}  # by the region the stage lists first
        recognised = session.recognise_all(photos / "wide2.png", threshold=1e-4).results
        assert [(name.rsplit("#", 1)[1], result.identity, result.closest) for name, result in recognised] == [
            ("left", "wendy", "wendy"), ("right", None, "wendy")]
        [(name, _)] = session.recognise_all(photos / "wide2.png", threshold=1e-4, main_region_only=True).results
        assert name.endswith("#left")
        with pytest.raises(LookalikeError, match="found 2 regions"):
            session.verify(query, photos / "wide0.png")
    with Gallery.open(tmp_path / "g", read_only=True) as store:
        stored = sorted((image.path.rsplit("/", 1)[1], image.region) for image in store.images())
    # wide2's enrolment replaced what was indexed of it: its first region, under its identity
    assert stored == [("wide0.png", "left"), ("wide0.png", "right"), ("wide1.png", "left"), ("wide1.png", "right"),
                      ("wide2.png", "left")]


def test_training_sees_every_region(tmp_path):
    from lookalike.training import TrainSettings

    run = lookalike.train(_photos(tmp_path / "photos"), tmp_path / "model", image_size=32, head=(32, 16),
                          preprocess=Halves.name, valid_fraction=0.5,
                          settings=TrainSettings(epochs=1, batch_size=2, workers=0, precision="fp32"))
    names = sorted(path.name for path in run.train_paths + run.valid_paths)
    assert names == sorted(f"wide{n}.png#{side}" for n in range(3) for side in ("left", "right"))


def test_a_gallery_from_before_regions_is_read_and_then_migrated_without_reusing_an_id(image_folder, tmp_path,
                                                                                          tiny_model):
    gallery = tmp_path / "g"
    with lookalike.open(gallery, tiny_model, settings=SETTINGS) as session:
        session.index(image_folder)
    with Gallery.open(gallery) as store:
        last = max(store.images(), key=lambda image: image.id)
        last_id = last.id
        store.remove([last.path])  # the highest id is gone for good
        store.commit()
    db = sqlite3.connect(gallery / "gallery.sqlite")  # the table as galleries before regions had it
    db.executescript("""
        CREATE TABLE old (id INTEGER PRIMARY KEY AUTOINCREMENT, path TEXT NOT NULL UNIQUE, size INTEGER NOT NULL,
                          mtime_ns INTEGER NOT NULL, sha256 TEXT NOT NULL, label TEXT, identity TEXT);
        INSERT INTO old SELECT id, path, size, mtime_ns, sha256, label, identity FROM images;
        DROP TABLE images; ALTER TABLE old RENAME TO images;""")
    db.execute("UPDATE sqlite_sequence SET seq = ? WHERE name = 'images'", (last_id,))
    db.commit()
    db.close()
    with Gallery.open(gallery, read_only=True) as store:
        assert len(store) == 11 and {image.region for image in store.images()} == {""}
    with Gallery.open(gallery) as store:
        [new_id] = store.add([ImageRecord("/new.png", 1, 1, "0" * 64, region="face 0")],
                             np.eye(1, store.info.dim, dtype=np.float32), model_id=store.info.model_id)
        store.commit()
    assert new_id > last_id
    with Gallery.open(gallery, read_only=True) as store:
        assert store.find("/new.png").region == "face 0" and len(store) == 12
