"""The command line end to end: through a real subprocess as a user runs it (`run`), or, where a test runs many
commands, through the same `main()` in this process (`cli`), which spares a new interpreter per command."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image
from imagegen import write_image_folder, write_truncated_jpeg
from typer.testing import CliRunner

from lookalike.cli import app
from lookalike.models import load_model


def run(*args, check_code=0):
    result = subprocess.run([sys.executable, "-m", "lookalike", *map(str, args)], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == check_code, result.stderr
    return result


def test_the_command_answers_help_as_a_user_runs_it():
    out = run("--help").stdout
    assert "Usage" in out and "enroll" in out and "evaluate" in out


@pytest.mark.parametrize("command", [c.name or c.callback.__name__.replace("_", "-") for c in app.registered_commands])
def test_every_command_has_help(command):
    """In this process (typer's runner): starting Python once per command would cost seconds each."""
    result = CliRunner().invoke(app, [command, "--help"])
    assert result.exit_code == 0 and "Usage" in result.output and "--help" in result.output


GALLERIES = pytest.mark.parametrize("gallery_name", ["g", "g.db"], ids=["folder", "milvus-lite"])
"""The commands are the same whatever the store: a folder, or a Milvus Lite file."""


@GALLERIES
def test_index_search_info_remove(image_folder, tiny_model, tmp_path, cli, gallery_name):
    run = cli
    gallery = tmp_path / gallery_name
    write_truncated_jpeg(image_folder / "class0" / "truncated.jpg")
    (image_folder / "class1" / "x.jpg").write_text("not an image")

    indexed = run("index", image_folder, "--gallery", gallery, "--model", tiny_model, "--workers", "0")
    assert "14 images found: 12 added, 0 updated, 0 unchanged, 2 skipped" in indexed.stdout
    assert "truncated.jpg" in indexed.stderr and "x.jpg" in indexed.stderr
    assert indexed.stderr.count("warning: skipped") == 2

    again = run("index", image_folder, "--gallery", gallery)
    assert "0 added, 0 updated, 12 unchanged" in again.stdout

    query = (image_folder / "class2" / "img1.png").resolve()
    table = run("search", query, "--gallery", gallery, "-k", "3").stdout.splitlines()
    assert table[0] == f"# query {query}"
    assert table[1] == "rank\tscore\tpath"
    rank, score, path = table[2].split("\t")
    assert (rank, path) == ("1", str(query)) and float(score) >= 0.99
    assert len(table) == 5

    grid = tmp_path / "grid.png"
    as_json = json.loads(run("search", query, "--gallery", gallery, "-k", "2", "--json", "--exclude-self",
                             "--grid", grid).stdout)
    hits = as_json["results"][0]["hits"]
    assert [h["rank"] for h in hits] == [1, 2] and str(query) not in [h["path"] for h in hits]
    assert Image.open(grid).size[0] > 3 * 32

    info = run("info", "--gallery", gallery).stdout
    assert "images: 12" in info and "resnet18 at 32 px" in info

    assert "removed 4 images" in run("remove", image_folder / "class2", "--gallery", gallery).stdout
    assert "images: 8" in run("info", "--gallery", gallery).stdout


@pytest.mark.parametrize("setup", ["missing", "empty"])
def test_a_missing_or_empty_folder_exits_non_zero_with_a_clear_error(tmp_path, setup, cli):
    """In this process: main() is what turns errors into one line, in a process of its own or not (the help test
    runs the real command)."""
    folder = tmp_path / "photos"
    if setup == "empty":
        folder.mkdir()
    result = cli("index", folder, "--gallery", tmp_path / "g", check_code=2)
    assert result.stderr.startswith("error:") and str(folder) in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "g").exists()


def test_mixing_models_is_refused_on_the_command_line(image_folder, tiny_model, tmp_path, cli):
    run = cli
    from imagegen import TINY_CONFIG

    from lookalike.models import create_encoder, save_model

    run("index", image_folder, "--gallery", tmp_path / "g", "--model", tiny_model, "--workers", "0")
    save_model(create_encoder(TINY_CONFIG, seed=9), tmp_path / "other")
    result = run("search", image_folder, "--gallery", tmp_path / "g", "--model", tmp_path / "other", check_code=2)
    assert "error:" in result.stderr and "model" in result.stderr


@pytest.mark.parametrize(("option", "value", "message"), [
    ("--index", "lsh", "--index"),
    ("--precision", "fp8", "unknown precision 'fp8'"),
    ("--batch-size", "0", "--batch-size"),
])
def test_bad_option_values_are_refused(image_folder, tmp_path, option, value, message, cli):
    run = cli
    result = run("index", image_folder, "--gallery", tmp_path / "g", option, value, check_code=2)
    assert message in result.stderr and "Traceback" not in result.stderr


def test_create_model_writes_a_model_that_index_accepts(image_folder, tmp_path, cli):
    run = cli
    created = run("create-model", tmp_path / "m", "--image-size", "32", "--head", "32,16", "--trainable-from", "layer4")
    assert "resnet18 (random weights), 32 px, 16-d embedding" in created.stdout
    run("index", image_folder, "--gallery", tmp_path / "g", "--model", tmp_path / "m", "--workers", "0")
    assert "16" in run("info", "--gallery", tmp_path / "g").stdout.split("embedding dim: ")[1]


@pytest.mark.parametrize(("args", "message"), [
    (["--head", "512,x"], "--head"),
    (["--backbone", "vgg"], "unknown backbone"),
    (["--weights", "missing.safetensors"], "weights file not found"),
])
def test_create_model_errors(tmp_path, args, message, cli):
    run = cli
    result = run("create-model", tmp_path / "m", *args, check_code=2)
    assert message in result.stderr and "Traceback" not in result.stderr


def test_train_resume_then_index_with_the_trained_model(image_folder, tmp_path, cli):
    run = cli
    (image_folder / "class1" / "broken.jpg").write_text("not an image")
    model = tmp_path / "trained"
    common = ["--image-size", "32", "--batch-size", "4", "--workers", "0", "--precision", "fp32"]
    first = run("train", image_folder, "--out", model, "--epochs", "1", "--objective", "pair", *common)
    assert "epoch 1:" in first.stderr and "pair_accuracy" in first.stderr
    assert "warning: skipped" in first.stderr and "broken.jpg" in first.stderr
    assert "1 epochs" in first.stdout and f"saved to {model}" in first.stdout
    for name in ("model.safetensors", "config.json", "train_log.csv", "curves.png", "checkpoint/state.json"):
        assert (model / name).is_file(), name

    again = run("train", image_folder, "--out", model, *common, check_code=2)
    assert "already holds a training run" in again.stderr and "--resume" in again.stderr

    resumed = run("train", image_folder, "--out", model, "--resume", "--epochs", "2", "--minutes", "60")
    assert "resuming" in resumed.stderr and "epoch 2:" in resumed.stderr and "epoch 1:" not in resumed.stderr
    assert "stopped at the time budget" not in resumed.stdout  # the epochs ran out first
    assert len((model / "train_log.csv").read_text().splitlines()) == 3  # header + two epochs
    assert load_model(model).origin["training"]["settings"]["minutes"] == 60

    gallery = tmp_path / "g"
    run("index", image_folder, "--gallery", gallery, "--model", model, "--workers", "0")
    query = image_folder / "class0" / "img0.jpg"
    top = run("search", query, "--gallery", gallery, "-k", "1", "--json").stdout
    assert json.loads(top)["results"][0]["hits"][0]["path"] == str(query.resolve())


def test_simclr_trains_resumes_and_is_evaluated_on_its_backbone_features(tmp_path, cli):
    run = cli
    train, test = tmp_path / "train", tmp_path / "test"
    write_image_folder(train, classes=3, per_class=6)
    write_image_folder(test, classes=3, per_class=2)
    model = tmp_path / "simclr"
    common = ["--image-size", "32", "--batch-size", "6", "--workers", "0", "--precision", "fp32"]
    first = run("train", train, "--out", model, "--objective", "simclr", "--temperature", "0.2", "--epochs", "1",
                *common)
    assert "positive_top1" in first.stderr and "1 epochs" in first.stdout
    config = json.loads((model / "config.json").read_text())
    assert config["architecture"]["head"] == [512, 128] and config["architecture"]["embed_from"] == "backbone"
    assert config["origin"]["training"]["objective_settings"] == {"name": "simclr", "temperature": 0.2}
    resumed = run("train", train, "--out", model, "--resume", "--epochs", "2")
    assert "epoch 2:" in resumed.stderr

    env_cache = ["--no-cache"]
    table = run("evaluate", model, "--train", train, "--test", test, *env_cache, "--workers", "0").stdout
    assert "linear probe top-1" in table and "kNN top-1 (k=20)" in table and "mAP@R" in table
    scores = json.loads(run("evaluate", model, "--train", train, "--test", test, "--json", "--k", "3",
                            "--layer", "head", *env_cache, "--workers", "0").stdout)
    assert scores["layer"] == "head" and scores["k"] == 3
    for value in (scores["probe"]["top1"], scores["probe"]["top5"], scores["knn_top1"],
                  scores["retrieval"]["precision_at_1"], scores["retrieval"]["map_at_r"]):
        assert 0.0 <= value <= 1.0
    assert scores["retrieval"]["queries"] == 6

    same = run("evaluate", model, "--train", train, "--test", train, *env_cache, check_code=2)
    assert "same images" in same.stderr


def test_train_rejects_bad_settings_with_one_line(image_folder, tmp_path, cli):
    run = cli
    bad = run("train", image_folder, "--out", tmp_path / "m", "--mining", "hardest", check_code=2)
    assert bad.stderr.strip() == "error: unknown mining 'hardest'; choose one of random, hard, semihard"
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "error:" in run("train", empty, "--out", tmp_path / "m", check_code=2).stderr
    assert not (tmp_path / "m").exists()


@GALLERIES
def test_enroll_calibrate_recognize_verify_and_manage_identities(tmp_path, tiny_model, cli, gallery_name):
    run = cli
    people, strangers = tmp_path / "people", tmp_path / "calibration"
    write_image_folder(people, classes=2, per_class=3)  # class0 and class1 are enrolled ...
    write_image_folder(strangers, classes=3, per_class=3)  # ... class2 never is
    gallery = tmp_path / gallery_name
    enrolled = run("enroll", people, "--gallery", gallery, "--model", tiny_model, "--workers", "0")
    assert "enrolled 2 identities (6 images)" in enrolled.stdout
    assert run("identities", "--gallery", gallery).stdout.splitlines() == ["class0,3", "class1,3"]

    calibrated = json.loads(run("calibrate", strangers, "--gallery", gallery, "--json", "--workers", "0").stdout)
    assert calibrated["genuine"] == 9 and calibrated["impostor"] == 27 and 0 <= calibrated["eer"] <= 1
    assert Path(calibrated["roc"]).read_bytes().startswith(b"\x89PNG")
    beside = gallery if gallery_name == "g" else Path(f"{gallery}.lookalike/lookalike")  # a Milvus file's side folder
    assert Path(calibrated["roc"]).parent == beside
    assert f"{calibrated['threshold']:.4f}" in run("info", "--gallery", gallery).stdout

    known, stranger = people / "class1" / "img2.jpg", strangers / "class2" / "img0.jpg"
    at_tau = json.loads(run("recognize", known, stranger, "--gallery", gallery, "--json").stdout)
    assert at_tau["threshold"] == calibrated["threshold"]  # the calibrated τ is the default
    lines = run("recognize", known, stranger, "--gallery", gallery, "--threshold", "1e-4").stdout.splitlines()
    assert lines[0] == "file,identity,distance"
    assert lines[1].startswith(f"{known.resolve()},class1,") and lines[2].startswith(f"{stranger.resolve()},unknown,")

    same = run("verify", known, "--claimed", "class1", "--gallery", gallery, "--threshold", "1e-4")
    assert same.stdout.endswith(": same\n")
    other = run("verify", known, people / "class0" / "img0.jpg", "--model", tiny_model, "--json", check_code=1)
    assert json.loads(other.stdout)["same"] is None  # no gallery, no --threshold: the distance, undecided

    assert "renamed class1 to bea (3 images)" in run("rename-identity", "class1", "bea", "--gallery", gallery).stdout
    assert "removed class0 (3 images)" in run("remove-identity", "class0", "--gallery", gallery).stdout
    assert run("identities", "--gallery", gallery).stdout.splitlines() == ["bea,3"]
    unknown = run("verify", known, "--claimed", "class1", "--gallery", gallery, "--threshold", "0.5", check_code=2)
    assert "'class1' is not enrolled" in unknown.stderr and "bea" in unknown.stderr
