"""Fixtures shared by the tests: a generated image folder, a tiny saved model, and one demo run."""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from imagegen import TINY_CONFIG, write_image_folder

from lookalike.models import create_encoder, save_model


@pytest.fixture
def image_folder(tmp_path) -> Path:
    root = tmp_path / "images"
    write_image_folder(root)
    return root


@pytest.fixture
def tiny_model(tmp_path) -> Path:
    folder = tmp_path / "model"
    save_model(create_encoder(TINY_CONFIG, seed=0), folder)
    return folder


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory) -> SimpleNamespace:
    """One short demo on the generated folder, shared by the tests that read its result, page and progress (its
    output folder is theirs to read, not to change): result, the job statuses heard, and the lines said."""
    from lookalike.demo import run_demo

    root = tmp_path_factory.mktemp("demo")
    write_image_folder(root / "images")
    statuses: list = []
    lines: list[str] = []
    result = run_demo(root / "out", root / "images", image_size=TINY_CONFIG.image_size, epochs=1,
                      on_job=statuses.append, say=lines.append)
    return SimpleNamespace(result=result, statuses=statuses, lines=lines)


@pytest.fixture
def lookalike_main(capsys, monkeypatch):
    """Run the `lookalike` command in this process, so that a test can inject faults with monkeypatch:
    `lookalike_main("index", ...)` gives (exit status, stdout, stderr)."""
    from lookalike.cli import main

    def run(*args) -> tuple[int, str, str]:
        capsys.readouterr()
        monkeypatch.setattr(sys, "argv", ["lookalike", *map(str, args)])
        try:
            main()
            code = 0
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 1
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture
def cli(lookalike_main):
    """`lookalike ARGS...` run in this process, checking its exit status: gives its stdout and stderr."""
    def run(*args, check_code=0):
        code, out, err = lookalike_main(*args)
        assert code == check_code, err
        return SimpleNamespace(stdout=out, stderr=err)

    return run
