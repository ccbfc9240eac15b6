import shutil

import numpy as np
import pytest
from PIL import Image
from imagegen import TINY_CONFIG, write_image_folder

import lookalike
from lookalike.embed import EmbedSettings
from lookalike.enrolment import enrolment_images
from lookalike.errors import LookalikeError, ModelMismatchError, NothingReadable
from lookalike.gallery import Gallery
from lookalike.match import recognise
from lookalike.models import create_encoder, save_model
from lookalike.verification import verify_pair

SETTINGS = EmbedSettings(workers=0, precision="fp32")


def _open(gallery, model=None):
    return lookalike.open(gallery, model, settings=SETTINGS)


def enroll_folder(people, gallery, model=None):
    with _open(gallery, model) as session:
        return session.enrol_folder(people)


@pytest.fixture
def people(tmp_path):
    """class0..class2 as identity folders of 4 images, plus one image named after a fourth person."""
    root = tmp_path / "people"
    write_image_folder(root, classes=3, per_class=4)
    shutil.copy(root / "class0" / "img1.png", root / "dora.png")
    return root


def test_folders_and_named_files_both_enrol(people):
    pairs = enrolment_images(people).pairs
    assert sorted({name for _, name in pairs}) == ["class0", "class1", "class2", "dora"]
    assert sum(name == "dora" for _, name in pairs) == 1 and len(pairs) == 13


def test_enrol_rename_and_remove_survive_a_reload(people, tiny_model, tmp_path):
    gallery = tmp_path / "g"
    report = enroll_folder(people, gallery, tiny_model)
    assert report.enrolled == {"class0": 4, "class1": 4, "class2": 4, "dora": 1} and report.identities == 4
    with _open(gallery) as session:
        assert session.rename_identity("dora", "dorothy") == 1
        assert session.remove_identity("class2") == 4
    with _open(gallery) as session:
        assert session.identities() == {"class0": 4, "class1": 4, "dorothy": 1}
        with pytest.raises(LookalikeError, match="already enrolled"):
            session.rename_identity("class0", "class1")
        with pytest.raises(LookalikeError, match="'nobody' is not enrolled"):
            session.remove_identity("nobody")


def test_an_enrolled_image_is_recognised_and_verified_under_tau(people, tiny_model, tmp_path):
    gallery = tmp_path / "g"
    enroll_folder(people, gallery, tiny_model)
    query = people / "class1" / "img2.jpg"
    with _open(gallery) as session:
        report = session.recognise_all([query], threshold=1e-4)
        [(path, result)] = report.results
        assert path == query.resolve() and result.identity == "class1" and result.distance < 1e-4
        claim = session.verify_claim(query, "class1", threshold=1e-4)
        assert claim.same is True and claim.similarity > 0.9999
        other = session.verify_claim(query, "class0", threshold=1e-4)
        assert other.same is False and other.distance > claim.distance
        pair = session.verify(query, people / "class0" / "img0.jpg")
        assert pair.threshold is None and pair.same is None and pair.distance_name == "cosine"  # no τ given


@pytest.mark.parametrize("aggregate", ["nearest", "mean"])
def test_recognition_through_the_stores_search_answers_as_a_comparison_with_every_enrolled_image(
        people, image_folder, tiny_model, tmp_path, aggregate):
    gallery = tmp_path / "g"
    strangers = tmp_path / "strangers"
    strangers.mkdir()
    for seed in range(3):
        noise = np.random.default_rng(seed).integers(0, 256, (40, 40, 3), dtype=np.uint8)
        Image.fromarray(noise).save(strangers / f"{seed}.png")
    with _open(gallery, tiny_model) as session:
        session.index(image_folder)  # images without an identity, which recognition must never answer
        session.index(strangers)
        session.enrol_folder(people)
        report = session.recognise_all([strangers, people], threshold=0.02, aggregate=aggregate)
        queries = session.model.embed([path for path, _ in report.results])
    with Gallery.open(gallery, read_only=True) as store:
        enrolled = [image for image in store.images() if image.identity is not None]
        vectors = store.vectors([image.id for image in enrolled])
    expected = recognise(queries, vectors, [image.identity for image in enrolled], 0.02, aggregate=aggregate)
    got = [result for _, result in report.results]
    assert [(r.identity, r.closest) for r in got] == [(r.identity, r.closest) for r in expected]
    np.testing.assert_allclose([r.distance for r in got], [r.distance for r in expected], atol=1e-5)
    assert {result.identity for result in expected} - {None} and None in {result.identity for result in expected}


def test_an_image_held_in_memory_is_enrolled_as_a_png_the_gallery_keeps(people, tiny_model, tmp_path):
    pixels = np.asarray(Image.open(people / "class2" / "img3.png").convert("RGB"))
    with _open(tmp_path / "g", tiny_model) as session:
        enrolment = session.enrol("zoe", pixels)
        assert enrolment.identities == {"zoe": 1}
        assert enrolment.image.path.startswith(str(tmp_path / "g" / "uploads"))
        np.testing.assert_array_equal(np.asarray(Image.open(enrolment.image.path)), pixels)
        assert session.recognise(people / "class2" / "img3.png", threshold=1e-4).identity == "zoe"


def test_clear_errors(people, tiny_model, tmp_path):
    (people / "empty_person").mkdir()
    report = enroll_folder(people, tmp_path / "g", tiny_model)
    assert [(bad.path.name, bad.reason) for bad in report.skipped] == [("empty_person",
                                                                        "an identity folder with no images")]
    with _open(tmp_path / "g") as session:
        with pytest.raises(LookalikeError, match="'zed' is not enrolled"):
            session.verify_claim(people / "dora.png", "zed", threshold=0.5)
        with pytest.raises(LookalikeError, match="no threshold"):
            session.recognise_all([people / "dora.png"])
    other = tmp_path / "other-model"
    save_model(create_encoder(TINY_CONFIG, seed=1), other)
    with pytest.raises(ModelMismatchError):
        _open(tmp_path / "g", other)
    with pytest.raises(LookalikeError, match="single images"):
        verify_pair(lookalike.load_model(other), people, people / "dora.png", None)


@pytest.mark.parametrize("name", ["mal\nlory", "tab\there", "bell\x07", "rtl\u202eevil", " ", "x" * 201])
def test_identity_names_that_could_forge_output_are_refused(people, tiny_model, tmp_path, name):
    gallery = tmp_path / "g"
    enroll_folder(people, gallery, tiny_model)
    with _open(gallery) as session:
        with pytest.raises(LookalikeError, match="identity name"):
            session.rename_identity("dora", name)
        assert session.identities()["dora"] == 1


def test_an_identity_folder_whose_name_cannot_be_one_is_skipped_with_the_reason(people, tiny_model, tmp_path):
    shutil.copytree(people / "class0", people / "eve\nmallory")
    report = enroll_folder(people, tmp_path / "g", tiny_model)
    assert [bad.path.name for bad in report.skipped] == ["eve\nmallory"]
    with _open(tmp_path / "g") as session:
        assert "line break" in report.skipped[0].reason and "eve\nmallory" not in session.identities()


def test_enrolling_nothing_readable_is_an_error_and_creates_no_gallery(tmp_path, tiny_model):
    people = tmp_path / "people"
    people.mkdir()
    (people / "ann.jpg").write_text("not an image")
    (people / "bob.png").symlink_to("missing.png")
    with pytest.raises(NothingReadable) as caught:
        enroll_folder(people, tmp_path / "g", tiny_model)
    assert sorted(bad.path.name for bad in caught.value.skipped) == ["ann.jpg", "bob.png"]
    assert not (tmp_path / "g").exists()


def test_calibrating_on_enrolled_people_is_warned_about(people, tiny_model, tmp_path, lookalike_main):
    gallery = tmp_path / "g"
    enroll_folder(people, gallery, tiny_model)
    (people / "dora.png").unlink()  # calibration needs identity folders only
    code, out, err = lookalike_main("calibrate", people, "--gallery", gallery, "--workers", "0")
    assert code == 0 and "warning: 3 of the 3 calibration identities are enrolled in the gallery" in err
    others = tmp_path / "others"
    for name in ("x", "y"):
        (others / name).mkdir(parents=True)
        for image in sorted((people / "class0").iterdir())[:2]:
            (others / name / image.name).write_bytes(image.read_bytes())
    with _open(gallery) as session:
        assert session.calibrate(others).overlap == []
