"""Faces with dlib on real LFW photos (skipped with the reason where ../shared/data or the faces extra is absent):
the faces stage finds, aligns and names every face, largest first, and reports a photo without one; dlib's face
encoder is a model like any other, and without the extra both say how to install it; training on face chips takes
views that keep the face."""

from __future__ import annotations

import importlib.util
import io
import json
import sys

import numpy as np
import pytest
from PIL import Image
from imagegen import SHARED_DATA

import lookalike
from lookalike.data import BadImage
from lookalike.data.decode import decode_regions
from lookalike.embed import EmbedSettings
from lookalike.errors import LookalikeError
from lookalike.faces import backbone, dlib_files, stage
from lookalike.faces.dlib_files import FacesNotInstalled
from lookalike.preprocess import stage_named
from lookalike.training import Callbacks, TrainSettings
from lookalike.training.checkpoint import checkpoint_dir, load_checkpoint
from lookalike.views import recipe_named

LFW = SHARED_DATA / "lfw_deepfunneled_subset"
SETTINGS = EmbedSettings(workers=0)
def _faces_available() -> bool:
    try:
        dlib_files.dlib()
        dlib_files.model_file(dlib_files.FACE_ENCODER)
    except FacesNotInstalled:
        return False
    return LFW.is_dir()


needs_faces = pytest.mark.skipif(not _faces_available(),
                                 reason=f"needs the faces extra ({dlib_files.INSTALL}) and real faces at {LFW}")


def _photo(person: str = "Abdullah_Gul", number: int = 1) -> Image.Image:
    return Image.open(LFW / person / f"{person}_{number:04d}.jpg").convert("RGB")


def _png(image: Image.Image, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=options.pop("format", "PNG"), **options)
    return buffer.getvalue()


@needs_faces
def test_one_face_is_found_aligned_and_named_by_its_box():
    [(key, chip)] = decode_regions(_png(_photo()), 150, stage_named("faces"))
    assert key == "face 0 at 67,68 109x108" and chip.shape == (150, 150, 3)


@needs_faces
def test_two_faces_in_one_photo_are_two_regions_the_largest_first():
    group = Image.new("RGB", (450, 250), "white")
    group.paste(_photo("Alejandro_Toledo").resize((200, 200)), (0, 25))
    group.paste(_photo(), (200, 0))  # full size: the larger face, on the right
    keys = [key for key, _ in decode_regions(_png(group), 150, stage_named("faces"))]
    lefts = [int(key.split(" at ")[1].split(",")[0]) for key in keys]
    assert [key.split(" at ")[0] for key in keys] == ["face 0", "face 1"]
    assert lefts[0] > 200 > lefts[1]  # the full-size face, on the right, comes first


@needs_faces
def test_a_photo_without_a_face_and_a_face_too_small_are_skipped_with_the_reason(tmp_path):
    noise = Image.fromarray(np.random.default_rng(0).integers(0, 256, (120, 120, 3), dtype=np.uint8))
    for image in (noise, _photo().resize((50, 50))):  # at 50 px the face is about 22 px wide, below HOG's reach
        with pytest.raises(BadImage, match="no face found"):
            decode_regions(_png(image), 150, stage_named("faces"), name="x.png")
    assert len(decode_regions(_png(_photo().resize((70, 70))), 150, stage_named("faces"))) == 1  # 37 px: found


@needs_faces
def test_a_photo_stored_sideways_with_its_exif_orientation_is_turned_before_detection():
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to view": the pixels lie on their side
    sideways = _photo().transpose(Image.Transpose.ROTATE_90)
    with pytest.raises(BadImage, match="no face found"):
        decode_regions(_png(sideways, format="JPEG"), 150, stage_named("faces"))
    [(key, _)] = decode_regions(_png(sideways, format="JPEG", exif=exif), 150, stage_named("faces"))
    assert key.startswith("face 0 at ")


@needs_faces
def test_dlib_face_enrols_one_photo_per_person_and_recognises_others_through_the_cli(lookalike_main, tmp_path):
    people = sorted(path.name for path in LFW.iterdir())[:10]
    enrol = tmp_path / "people"
    enrol.mkdir()
    for person in people:
        (enrol / f"{person}.jpg").symlink_to(LFW / person / f"{person}_0001.jpg")
    assert lookalike_main("create-model", tmp_path / "model", "--backbone", "dlib-face")[0] == 0
    code, out, err = lookalike_main("enroll", enrol, "--gallery", tmp_path / "g", "--model", tmp_path / "model",
                                    "--workers", "0")
    assert code == 0 and "enrolled 10 identities" in out
    queries = [LFW / person / f"{person}_{number:04d}.jpg" for person in people for number in (2, 3)]
    code, out, err = lookalike_main("recognize", *queries, "--gallery", tmp_path / "g", "--threshold", "0.2",
                                    "--largest-face", "--json", "--workers", "0")
    results = json.loads(out)["results"]
    right = sum(result["closest"] == result["file"].rsplit("/", 2)[1] for result in results)
    assert len(results) == 20 - len(json.loads(out).get("skipped", [])) and right >= 18


@needs_faces
def test_dlib_face_is_a_model_like_any_other_but_cannot_be_trained(tmp_path):
    model = lookalike.create_model(lookalike.EncoderConfig.for_backbone("dlib-face"), settings=SETTINGS)
    assert (model.config.preprocess, model.config.image_size, model.dim) == ("faces", 150, 128)
    assert model.encoder.origin["init"] == "dlib"
    model.save(tmp_path / "model")
    loaded = lookalike.load_model(tmp_path / "model", SETTINGS)
    same = [LFW / "Abdullah_Gul" / "Abdullah_Gul_0001.jpg", LFW / "Abdullah_Gul" / "Abdullah_Gul_0002.jpg"]
    vectors = loaded.embed([*same, _photo("Alejandro_Toledo")])
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]
    with pytest.raises(LookalikeError, match="comes trained and cannot be trained here"):
        lookalike.train(LFW, tmp_path / "trained", backbone="dlib-face")


def test_without_the_faces_extra_each_use_says_how_to_install_it(monkeypatch):
    caches = (stage._detector, stage._landmarks, backbone._network, dlib_files.file_sha256)
    for cache in caches:
        cache.cache_clear()
    monkeypatch.setitem(sys.modules, "dlib", None)  # import dlib now fails
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)  # no package installed
    try:
        with pytest.raises(FacesNotInstalled, match=r"pip install 'lookalike\[faces\]'"):
            stage_named("faces").regions(Image.new("RGB", (64, 64)), 150)
        with pytest.raises(FacesNotInstalled, match=r"pip install 'lookalike\[faces\]'"):
            lookalike.create_model(lookalike.EncoderConfig.for_backbone("dlib-face"))
    finally:
        for cache in caches:
            cache.cache_clear()


@needs_faces
def test_a_group_photo_uploaded_to_the_server_gets_every_face_boxed_and_named(tmp_path):
    from fastapi.testclient import TestClient

    from lookalike.web import create_app

    enrol = tmp_path / "people"
    enrol.mkdir()
    for person in ("Abdullah_Gul", "Alejandro_Toledo"):
        (enrol / f"{person}.jpg").symlink_to(LFW / person / f"{person}_0001.jpg")
    model = lookalike.create_model(lookalike.EncoderConfig.for_backbone("dlib-face"), settings=SETTINGS)
    with lookalike.open(tmp_path / "g", model, settings=SETTINGS) as session:
        session.enrol_folder(enrol)
    group = Image.new("RGB", (450, 250), "white")
    group.paste(_photo("Alejandro_Toledo", 2).resize((200, 200)), (0, 25))
    group.paste(_photo("Abdullah_Gul", 2), (200, 0))
    (tmp_path / "photos").mkdir()
    group.save(tmp_path / "photos" / "group.png")
    with lookalike.open(tmp_path / "g", settings=SETTINGS) as session:
        session.index(tmp_path / "photos")
    with TestClient(create_app(tmp_path / "g", settings=SETTINGS), base_url="http://127.0.0.1") as client:
        answer = client.post("/api/recognize?threshold=0.1", files={"file": ("group.png", _png(group))}).json()
        faces = answer["faces"]
        assert [face["identity"] for face in faces] == ["Abdullah_Gul", "Alejandro_Toledo"]  # the larger face first
        assert faces[0]["box"][0] > 200 > faces[1]["box"][0] and answer["identity"] == "Abdullah_Gul"

        # Searching finds each face of the indexed group photo as its own hit, and its thumbnail is that face.
        for person in ("Abdullah_Gul", "Alejandro_Toledo"):
            hits = client.post("/api/search?k=10", files={"file": ("q.png", _png(_photo(person, 3)))}).json()["hits"]
            hit = next(hit for hit in hits if hit["image"]["name"] == "group.png")  # the nearest of its faces
            assert hit["image"]["region"].startswith("face ")
            thumbnail = client.get(hit["image"]["thumbnail"]).content
            named = client.post("/api/recognize?threshold=0.1", files={"file": ("t.jpg", thumbnail)}).json()
            assert named["identity"] == person


@needs_faces
def test_the_cnn_detector_finds_the_same_face():
    [(key, chip)] = decode_regions(_png(_photo()), 150, stage_named("faces-cnn"))
    left, top = (int(value) for value in key.split(" at ")[1].split(" ")[0].split(","))
    assert key.startswith("face 0 at ") and abs(left - 67) < 20 and abs(top - 68) < 20 and chip.shape == (150, 150, 3)


@needs_faces
def test_training_on_face_chips_takes_the_faces_views_unless_told_otherwise(tmp_path):
    people = tmp_path / "people"
    for person in ("Abdullah_Gul", "Alejandro_Toledo", "Ariel_Sharon"):
        (people / person).mkdir(parents=True)
        for number in (1, 2, 3, 4):
            (people / person / f"{number}.jpg").symlink_to(LFW / person / f"{person}_{number:04d}.jpg")
    settings = TrainSettings(epochs=1, batch_size=6, per_identity=2, workers=0, precision="fp32")

    def views_of(out, **options):
        lookalike.train(people, out, image_size=32, head=(16,), preprocess="faces", labels="folders",
                        settings=settings, callbacks=Callbacks(say=lambda _: None), **options)
        return [view["name"] for view in load_checkpoint(checkpoint_dir(out)).meta["run"]["views"]]

    faces = recipe_named("faces").to_dict()
    assert views_of(tmp_path / "default") == ["plain", faces["name"]]
    assert load_checkpoint(checkpoint_dir(tmp_path / "default")).meta["run"]["views"][1] == faces
    assert views_of(tmp_path / "told", views="seed") == ["plain", "seed"]
