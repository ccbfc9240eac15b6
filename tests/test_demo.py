import pytest

from imagegen import TINY_CONFIG
from lookalike.demo import run_demo


def test_demo_on_a_given_folder_writes_a_report_with_scores(image_folder, tmp_path):
    lines = []
    result = run_demo(tmp_path / "out", image_folder, image_size=TINY_CONFIG.image_size, say=lines.append)
    page = result.report.read_text()
    assert result.index.added == 12
    assert result.grid.is_file() and result.grid.name in page
    assert f"{result.scores.precision_at_1:.3f}" in page
    assert 0 <= result.scores.map_at_r <= 1
    assert result.chance_precision_at_1 == pytest.approx(1 / 3)
    assert any("report:" in line for line in lines)

    again = run_demo(tmp_path / "out", image_folder, image_size=TINY_CONFIG.image_size, say=lines.append)
    assert (again.index.added, again.index.unchanged) == (0, 12)  # the same model: nothing to embed again
