import re

import pytest
from imagegen import TINY_CONFIG

from lookalike.demo import run_demo


def test_demo_trains_then_reports_both_encoders_and_reuses_its_work(image_folder, tmp_path):
    lines = []
    result = run_demo(tmp_path / "out", image_folder, image_size=TINY_CONFIG.image_size, epochs=1, say=lines.append)
    page = result.report.read_text()
    assert [e.name for e in result.evaluations] == ["untrained", "trained"]
    assert all(e.index.added == 12 for e in result.evaluations)
    assert result.evaluations[0].index.model_id != result.evaluations[1].index.model_id
    assert result.grid.is_file() and result.grid.name in page and "curves.png" in page
    for evaluation in result.evaluations:
        assert f"{evaluation.scores.precision_at_1:.3f}" in page
        assert 0 <= evaluation.scores.map_at_r <= 1
    assert result.chance_precision_at_1 == pytest.approx(1 / 3)
    untrained, trained = (e.scores.map_at_r for e in result.evaluations)
    assert ("Training raised" if trained >= untrained else "Training lowered") in page
    assert re.search(r"effective rank \d+\.\d", page)  # the label-free diagnostics' verdict, with its figures
    assert any(line.startswith("training ") for line in lines) and any("report:" in line for line in lines)

    lines.clear()
    again = run_demo(tmp_path / "out", image_folder, image_size=TINY_CONFIG.image_size, epochs=1, say=lines.append)
    assert any("reusing" in line for line in lines)  # same data and settings: no second training
    assert [(e.index.added, e.index.unchanged) for e in again.evaluations] == [(0, 12), (0, 12)]

    retrained = run_demo(tmp_path / "out", image_folder, image_size=TINY_CONFIG.image_size, epochs=2, say=print)
    assert retrained.evaluations[1].index.added == 12  # a new model: its gallery was rebuilt, not refused


def test_demo_without_training_shows_the_untrained_baseline_only(image_folder, tmp_path):
    result = run_demo(tmp_path / "out", image_folder, image_size=TINY_CONFIG.image_size, epochs=0, say=print)
    assert [e.name for e in result.evaluations] == ["untrained"]
    assert "no training" in result.report.read_text()


def test_the_offline_digits_train_with_views_that_never_mirror_a_digit():
    """A mirrored 2 is no 2: on the digits the demo lost to its untrained baseline with the seed's mirrored crops."""
    from pathlib import Path

    from lookalike.demo import DEFAULT_RECIPE, recipe_for
    from lookalike.views import recipe_named

    digits = recipe_for(Path("/cache/lookalike/sklearn_digits"))
    assert (digits.objective, digits.views) == ("simclr", "strokes")
    strokes = recipe_named("strokes")
    assert strokes.flip_p == 0 and strokes.scale[0] >= 0.6
    assert recipe_for(Path("/photos/holiday")) == DEFAULT_RECIPE
