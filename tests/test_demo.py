import html
import re
import shutil
from pathlib import Path

import pytest
from imagegen import TINY_CONFIG

from lookalike.demo import run_demo
from lookalike.demo_report import YOUR_GALLERY, YOUR_MODEL, YOUR_PHOTOS, headline
from lookalike.gallery import Gallery


def test_demo_trains_then_reports_both_encoders(demo_run):
    result = demo_run.result
    page = result.report.read_text()
    assert [e.name for e in result.evaluations] == ["untrained", "trained"]
    assert all(e.index.added == 12 for e in result.evaluations)
    assert result.evaluations[0].index.model_id != result.evaluations[1].index.model_id
    assert result.evaluations[-1].gallery == result.report.parent / "gallery"  # what `serve --gallery` is told
    for figure in (result.grid.name, "scores.png", "model/curves.png", "map.png"):
        assert f'src="{figure}"' in page and (result.report.parent / figure).is_file()
    for evaluation in result.evaluations:
        assert f"{evaluation.scores.precision_at_1:.3f}" in page
        assert 0 <= evaluation.scores.map_at_r <= 1
    assert all(e.scores.queries == 12 for e in result.evaluations)  # every image searched against the rest
    held_out = (result.report.parent / "held-out.txt").read_text().splitlines()
    assert all(e.unseen.queries == len(held_out) > 0 for e in result.evaluations)
    assert f"{result.evaluations[0].unseen.map_at_r:.3f}" in page
    assert result.chance_precision_at_1 == pytest.approx(1 / 3)
    assert html.escape(headline(result.evaluations)) in page
    assert re.search(r"effective rank \d+\.\d", page)  # the label-free diagnostics' verdict, with its figures
    assert any(line.startswith("training ") for line in demo_run.lines)


def test_demo_ends_with_one_line_per_encoder_trained_last_then_the_report(demo_run):
    *encoders, report = demo_run.result.summary()
    assert [line.split(" ")[0] for line in encoders] == ["untrained", "trained"]
    for line in encoders:
        assert re.fullmatch(r"\w+ resnet18: 12 images .* 12 queries: precision@1 \d\.\d{3} .* mAP@R \d\.\d{3}", line)
    assert report == f"report: {demo_run.result.report}"


def test_demo_progress_is_one_job_that_ends_done(demo_run):
    statuses = demo_run.statuses
    assert [status.stage for status in statuses][-1] == "drawing the report"
    assert {status.stage for status in statuses} >= {"indexing with the untrained network", "training",
                                                      "indexing with the trained network"}
    assert all(0 <= status.fraction <= 1 and status.seconds_left >= 0 for status in statuses)
    assert statuses[-1].fraction == pytest.approx(1) and statuses[-1].seconds_left == pytest.approx(0)


def test_the_reports_commands_do_the_same_on_another_folder(demo_run, cli, image_folder, tmp_path):
    """The page's commands are run as printed, on another folder (one epoch, to keep the test short)."""
    page = demo_run.result.report.read_text()
    block = re.search(r"<pre><code>(.*?)</code></pre>", page, re.S).group(1).replace("\\\n", " ")
    commands = [line.split() for line in block.splitlines() if line.startswith("lookalike ")]
    assert [command[1] for command in commands] == ["train", "index", "search", "serve", "serve"]
    names = {YOUR_PHOTOS: str(image_folder), YOUR_MODEL: str(tmp_path / "m"), YOUR_GALLERY: str(tmp_path / "g"),
             "QUERY.jpg": str(image_folder / "class1" / "img1.png")}
    train, index, search, _, demo_serve = ([names.get(word, word) for word in command[1:]] for command in commands)
    cli(*train, "--epochs", "1")
    cli(*index)
    assert "class1/img1.png" in cli(*search).stdout  # the query's own file, found in the new gallery
    assert demo_serve[-2:] == ["--gallery", str(demo_run.result.evaluations[-1].gallery)]
    assert Gallery.exists(demo_serve[-1])


def test_demo_reuses_its_work_and_rebuilds_what_another_model_made(demo_run, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(demo_run.result.report.parent, out)
    images = demo_run.result.data_dir
    lines: list[str] = []
    again = run_demo(out, images, image_size=TINY_CONFIG.image_size, epochs=1, say=lines.append)
    assert any("reusing" in line for line in lines)  # same data and settings: no second training
    assert [(e.index.added, e.index.unchanged) for e in again.evaluations] == [(0, 12), (0, 12)]

    retrained = run_demo(out, images, image_size=TINY_CONFIG.image_size, epochs=2, say=print)
    assert retrained.evaluations[1].index.added == 12  # a new model: its gallery was rebuilt, not refused


def test_demo_without_training_shows_the_untrained_baseline_only(image_folder, tmp_path):
    result = run_demo(tmp_path / "out", image_folder, image_size=TINY_CONFIG.image_size, epochs=0, say=print)
    assert [e.name for e in result.evaluations] == ["untrained"]
    assert result.evaluations[0].gallery == tmp_path / "out" / "gallery"
    page = result.report.read_text()
    assert "no training" in page and "Only the untrained network ran" in page


def test_the_offline_digits_train_with_views_that_never_mirror_a_digit():
    """A mirrored 2 is no 2: on the digits the demo lost to its untrained baseline with the seed's mirrored crops."""
    from lookalike.demo import DEFAULT_RECIPE, recipe_for
    from lookalike.views import recipe_named

    digits = recipe_for(Path("/cache/lookalike/sklearn_digits"))
    assert (digits.objective, digits.views) == ("simclr", "strokes")
    strokes = recipe_named("strokes")
    assert strokes.flip_p == 0 and strokes.scale[0] >= 0.6
    assert recipe_for(Path("/photos/holiday")) == DEFAULT_RECIPE


def test_on_photos_the_demo_fine_tunes_imagenet_weights_and_measures_them_frozen(image_folder, tmp_path):
    """The flower photos' recipe starts from ImageNet's EfficientNet-Lite0 and trains its last stage only; the
    baseline is that start as it is, and the page and its commands say so."""
    from lookalike.demo import recipe_for
    from lookalike.models import create_encoder, load_model

    photos = tmp_path / "flower_photos"  # the folder the flower download makes
    shutil.copytree(image_folder, photos)
    recipe = recipe_for(photos)
    assert (recipe.backbone, recipe.weights, recipe.trainable_from) == ("efficientnet-lite0", "imagenet", "head")

    result = run_demo(tmp_path / "out", photos, image_size=32, epochs=1, say=print)

    assert [e.name for e in result.evaluations] == ["pretrained", "trained"]
    assert [e.gallery.name for e in result.evaluations] == ["gallery-pretrained", "gallery"]
    trained = load_model(result.model_dir)
    start = create_encoder(trained.config, weights="imagenet").backbone.state_dict()
    changed = {name for name, value in trained.backbone.state_dict().items() if not value.equal(start[name])}
    assert changed and all(name.startswith("head.") for name in changed)  # everything before the head is frozen
    page = result.report.read_text()
    assert html.escape(headline(result.evaluations, "imagenet")) in page
    assert "same network with its ImageNet weights, frozen" in page
    train = " ".join(re.search(r"<pre><code>(.*?)</code></pre>", page, re.S).group(1).replace("\\\n", " ").split())
    assert re.search(r"--backbone efficientnet-lite0 .*--weights imagenet --trainable-from head", train)
