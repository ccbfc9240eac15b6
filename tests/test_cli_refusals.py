"""What the command does with careless input: one `error:` line and exit status 2, nothing half-done, nothing of
value replaced. In this process (see the `lookalike_main` fixture), so each case costs no interpreter start."""

from __future__ import annotations

import csv
import io
import json
import math

import pytest
from imagegen import TINY_CONFIG

from lookalike.models import create_encoder, load_model, save_model
from lookalike.models.storage import CONFIG_FILE

ARGS = ("--workers", 0, "--precision", "fp32")


def _error(code: int, err: str) -> str:
    assert code == 2 and "Traceback" not in err, err
    line = err.strip().splitlines()[-1]
    assert line.startswith("error: ")
    return line


@pytest.fixture
def gallery(lookalike_main, image_folder, tiny_model, tmp_path):
    folder = tmp_path / "g"
    assert lookalike_main("index", image_folder, "--gallery", folder, "--model", tiny_model, *ARGS)[0] == 0
    return folder


@pytest.fixture
def unreadable(tmp_path):
    folder = tmp_path / "unreadable"
    for name in ("ann", "bob"):
        (folder / name).mkdir(parents=True)
    (folder / "ann" / "a.jpg").write_text("not an image")
    (folder / "bob" / "b.png").symlink_to("gone.png")
    return folder


def test_search_grid_into_a_folder_or_an_impossible_path(lookalike_main, gallery, image_folder, tmp_path):
    query = image_folder / "class0" / "img0.jpg"
    code, out, err = lookalike_main("search", query, "--gallery", gallery, "--grid", tmp_path)
    assert code == 2 and "is a folder" in err and "--grid" in err and not out
    (tmp_path / "file.txt").write_text("a file, not a folder")
    code, _, err = lookalike_main("search", query, "--gallery", gallery, "--grid", tmp_path / "file.txt" / "grid.png")
    assert "cannot write" in _error(code, err) and "grid.png" in err


def test_create_model_refuses_an_absurd_head_and_a_folder_holding_a_model(lookalike_main, tmp_path):
    code, _, err = lookalike_main("create-model", tmp_path / "huge", "--head", "512,99999999999")
    assert "head widths must be whole numbers from 1 to 16384" in _error(code, err)
    assert not (tmp_path / "huge").exists()

    trained = tmp_path / "trained"
    save_model(create_encoder(TINY_CONFIG, seed=3), trained)
    (trained / "train_log.csv").write_text("epoch,train_loss\n1,0.5\n")
    before = (trained / CONFIG_FILE).read_bytes()
    code, _, err = lookalike_main("create-model", trained, "--image-size", 32, "--head", "32,16")
    assert "already holds a model" in _error(code, err)
    assert (trained / CONFIG_FILE).read_bytes() == before


def test_a_model_whose_stored_normalisation_is_nan_is_refused(tmp_path):
    folder = tmp_path / "m"
    save_model(create_encoder(TINY_CONFIG, seed=0), folder)
    meta = json.loads((folder / CONFIG_FILE).read_text())
    meta["architecture"]["std"][1] = math.nan  # the hash covers the architecture: recompute it as an attacker would
    from lookalike.models.encoder import EncoderConfig

    with pytest.raises(Exception, match="finite"):
        EncoderConfig.from_dict(meta["architecture"])
    (folder / CONFIG_FILE).write_text(json.dumps(meta))
    with pytest.raises(Exception, match=f"{CONFIG_FILE}.*finite"):
        load_model(folder)


@pytest.mark.parametrize("command", ["search", "recognize", "enroll", "index", "train", "whiten", "calibrate"])
def test_when_nothing_can_be_read_every_command_names_each_file_and_exits_2(lookalike_main, gallery, unreadable,
                                                                            image_folder, tiny_model, tmp_path,
                                                                            command):
    people = tmp_path / "people"
    if command == "recognize":
        assert lookalike_main("enroll", image_folder, "--gallery", people, "--model", tiny_model, *ARGS)[0] == 0
    args = {"search": ("search", unreadable, "--gallery", gallery),
            "recognize": ("recognize", unreadable, "--gallery", people, "--threshold", 0.5),
            "enroll": ("enroll", unreadable, "--gallery", tmp_path / "new", "--model", tiny_model),
            "index": ("index", unreadable, "--gallery", tmp_path / "new", "--model", tiny_model),
            "train": ("train", unreadable, "--out", tmp_path / "new"),
            "whiten": ("whiten", tiny_model, unreadable, "--out", tmp_path / "new"),
            "calibrate": ("calibrate", unreadable, "--model", tiny_model, "--roc", tmp_path / "new")}[command]
    code, out, err = lookalike_main(*args, *ARGS)
    line = _error(code, err)
    assert line == "error: none of the 2 images could be read; nothing was done" and not out
    warnings = err.strip().splitlines()[:-1]
    assert len(warnings) == 2 and all(w.startswith("warning: skipped ") for w in warnings)
    assert "a.jpg: not an image" in err and "b.png: broken symbolic link" in err
    assert not (tmp_path / "new").exists()


@pytest.mark.parametrize(("option", "value"), [("--lr", "inf"), ("--weight-decay", "inf"),
                                               ("--margin", "inf"), ("--temperature", "nan"), ("--minutes", "inf")])
def test_train_refuses_settings_that_are_not_finite(lookalike_main, image_folder, tmp_path, option, value):
    objective = ("--objective", "simclr") if option == "--temperature" else ()
    code, _, err = lookalike_main("train", image_folder, "--out", tmp_path / "m", *objective, option, value, *ARGS)
    assert "finite" in _error(code, err)
    assert not (tmp_path / "m").exists()


def test_a_setting_of_another_objective_is_refused_by_name(lookalike_main, image_folder, tmp_path):
    code, _, err = lookalike_main("train", image_folder, "--out", tmp_path / "m", "--temperature", "0.1", *ARGS)
    assert "the triplet objective has no setting temperature (its settings: mining, margin)" in _error(code, err)


def test_tables_quote_names_so_that_no_row_can_be_forged(lookalike_main, tiny_model, image_folder, tmp_path):
    people = tmp_path / "people"
    people.mkdir()
    for name in ("smith, anna", 'the "boss"'):
        (people / f"{name}.png").write_bytes((image_folder / "class0" / "img1.png").read_bytes())
    gallery = tmp_path / "g"
    assert lookalike_main("enroll", people, "--gallery", gallery, "--model", tiny_model, *ARGS)[0] == 0
    code, out, _ = lookalike_main("identities", "--gallery", gallery)
    assert code == 0 and list(csv.reader(io.StringIO(out))) == [["smith, anna", "1"], ['the "boss"', "1"]]
