"""Fixtures shared by the top-level tests: a generated image folder and a tiny saved model."""

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
