import shutil

import pytest
from imagegen import TINY_CONFIG, write_image_folder

from lookalike.embed import EmbedSettings
from lookalike.enrolment import enroll_folder, enrolment_images, list_identities, remove_identity, rename_identity
from lookalike.errors import LookalikeError, ModelMismatchError, NothingReadable
from lookalike.models import create_encoder, save_model
from lookalike.verification import recognize_images, verify_claim, verify_images

SETTINGS = EmbedSettings(workers=0, precision="fp32")


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
    report = enroll_folder(people, gallery, model=tiny_model, settings=SETTINGS)
    assert report.enrolled == {"class0": 4, "class1": 4, "class2": 4, "dora": 1} and report.identities == 4
    assert rename_identity(gallery, "dora", "dorothy") == 1
    assert remove_identity(gallery, "class2") == 4
    assert list_identities(gallery) == {"class0": 4, "class1": 4, "dorothy": 1}
    with pytest.raises(LookalikeError, match="already enrolled"):
        rename_identity(gallery, "class0", "class1")
    with pytest.raises(LookalikeError, match="'nobody' is not enrolled"):
        remove_identity(gallery, "nobody")


def test_an_enrolled_image_is_recognised_and_verified_under_tau(people, tiny_model, tmp_path):
    gallery = tmp_path / "g"
    enroll_folder(people, gallery, model=tiny_model, settings=SETTINGS)
    query = people / "class1" / "img2.jpg"
    report = recognize_images([query], gallery, threshold=1e-4, settings=SETTINGS)
    [(path, result)] = report.results
    assert path == query.resolve() and result.identity == "class1" and result.distance < 1e-4
    claim = verify_claim(query, "class1", gallery, threshold=1e-4, settings=SETTINGS)
    assert claim.same is True and claim.similarity > 0.9999
    other = verify_claim(query, "class0", gallery, threshold=1e-4, settings=SETTINGS)
    assert other.same is False and other.distance > claim.distance
    pair = verify_images(query, people / "class0" / "img0.jpg", gallery=gallery, settings=SETTINGS)
    assert pair.tau is None and pair.same is None and pair.scorer == "cosine"  # not calibrated, no --threshold


def test_clear_errors(people, tiny_model, tmp_path):
    (people / "empty_person").mkdir()
    report = enroll_folder(people, tmp_path / "g", model=tiny_model, settings=SETTINGS)
    assert [(bad.path.name, bad.reason) for bad in report.skipped] == [("empty_person",
                                                                        "an identity folder with no images")]
    with pytest.raises(LookalikeError, match="'zed' is not enrolled"):
        verify_claim(people / "dora.png", "zed", tmp_path / "g", threshold=0.5, settings=SETTINGS)
    with pytest.raises(LookalikeError, match="no threshold"):
        recognize_images([people / "dora.png"], tmp_path / "g", settings=SETTINGS)
    other = tmp_path / "other-model"
    save_model(create_encoder(TINY_CONFIG, seed=1), other)
    with pytest.raises(ModelMismatchError):
        recognize_images([people / "dora.png"], tmp_path / "g", model=other, threshold=0.5, settings=SETTINGS)
    with pytest.raises(LookalikeError, match="--model"):
        verify_images(people / "dora.png", people / "dora.png")


@pytest.mark.parametrize("name", ["mal\nlory", "tab\there", "bell\x07", "rtl\u202eevil", " ", "x" * 201])
def test_identity_names_that_could_forge_output_are_refused(people, tiny_model, tmp_path, name):
    gallery = tmp_path / "g"
    enroll_folder(people, gallery, model=tiny_model, settings=SETTINGS)
    with pytest.raises(LookalikeError, match="identity name"):
        rename_identity(gallery, "dora", name)
    assert list_identities(gallery)["dora"] == 1


def test_an_identity_folder_whose_name_cannot_be_one_is_skipped_with_the_reason(people, tiny_model, tmp_path):
    shutil.copytree(people / "class0", people / "eve\nmallory")
    report = enroll_folder(people, tmp_path / "g", model=tiny_model, settings=SETTINGS)
    assert [bad.path.name for bad in report.skipped] == ["eve\nmallory"]
    assert "line break" in report.skipped[0].reason and "eve\nmallory" not in list_identities(tmp_path / "g")


def test_enrolling_nothing_readable_is_an_error_and_creates_no_gallery(tmp_path, tiny_model):
    people = tmp_path / "people"
    people.mkdir()
    (people / "ann.jpg").write_text("not an image")
    (people / "bob.png").symlink_to("missing.png")
    with pytest.raises(NothingReadable) as caught:
        enroll_folder(people, tmp_path / "g", model=tiny_model, settings=SETTINGS)
    assert sorted(bad.path.name for bad in caught.value.skipped) == ["ann.jpg", "bob.png"]
    assert not (tmp_path / "g").exists()
