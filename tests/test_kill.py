"""`kill -9` at awkward moments, in a real process: whatever was committed survives, and a re-run finishes the job."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

import lookalike
from lookalike.embed import EmbedSettings
from lookalike.gallery import Gallery
from lookalike.training import resume_training
from lookalike.training.checkpoint import checkpoint_dir, load_checkpoint

KILLER = Path(__file__).with_name("kill_at.py")
SETTINGS = EmbedSettings(workers=0, precision="fp32")


def _killed(module: str, attribute: str, nth: int, *arguments) -> None:
    result = subprocess.run([sys.executable, KILLER, module, attribute, str(nth), *map(str, arguments)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == -signal.SIGKILL, result.stderr


@pytest.mark.parametrize(("module", "attribute", "nth", "committed"), [
    ("lookalike.model", "save_model", 1, None),  # while a new gallery writes its model copy
    ("lookalike.gallery.catalog", "Catalog.commit", 1, 0),  # the first batch's index file written, not committed
    ("lookalike.gallery.catalog", "Catalog.commit", 3, 8),  # two batches of four committed, the third not
])
def test_index_killed_loses_nothing_committed_and_a_rerun_finishes(image_folder, tiny_model, tmp_path, module,
                                                                   attribute, nth, committed):
    gallery = tmp_path / "g"
    _killed(module, attribute, nth, "index", image_folder, "--gallery", gallery, "--model", tiny_model,
            "--batch-size", 4, "--workers", 0, "--precision", "fp32")
    if committed is None:
        assert not gallery.exists()  # created whole or not at all
    else:
        with Gallery.open(gallery, read_only=True) as store:
            assert len(store) == committed
            assert all(Path(image.path).is_file() for image in store.images())
    with lookalike.open(gallery, tiny_model, settings=SETTINGS) as session:
        report = session.index(image_folder)
    assert (report.added, report.unchanged, report.skipped) == (12 - (committed or 0), committed or 0, [])
    assert not list(tmp_path.glob(".g.creating-*"))  # what the killed creator left is cleared away


def test_train_killed_between_the_two_checkpoint_files_resumes_from_the_last_epoch(image_folder, tmp_path):
    out = tmp_path / "m"
    # Epoch 2's tensors are written when the kill comes, just before its state.json.
    _killed("lookalike.training.checkpoint", "write_json_atomic", 2, "train", image_folder, "--out", out,
            "--epochs", 3, "--image-size", 32, "--head", "32,16", "--batch-size", 4, "--workers", 0,
            "--precision", "fp32")
    assert load_checkpoint(checkpoint_dir(out)).meta["epoch"] == 1
    run = resume_training(out)
    assert [row.epoch for row in run.report.history] == [1, 2, 3]
    assert len(list(checkpoint_dir(out).glob("state-*.safetensors"))) == 1
