"""A full disk at each place lookalike writes, injected as the operating system reports it (ENOSPC): one `error:`
line that names the file, and everything committed before stays as it was."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import faiss
import pytest
from imagegen import write_image_folder

from lookalike.gallery import Gallery

NO_SPACE = os.strerror(errno.ENOSPC)
FAISS_NO_SPACE = ("Error in void faiss::write_index(const Index*, IOWriter*, int) at /project/faiss/impl/"
                  "index_write.cpp:499: Error: 'ret == (size * 4)' failed: write error in {}: 262099 != 2048000 "
                  f"({NO_SPACE})")
"""What FAISS raised here when writing an index onto a full tmpfs."""


@pytest.fixture
def full_disk(monkeypatch):
    """`full_disk(part, after=0)`: from then on, every write of a file whose name holds `part` fails as a full disk
    does, once `after` such writes have gone through. Covers Python's writes and FAISS's own."""

    def fill(part: str, after: int = 0) -> None:
        passed = 0

        def allowed(name: str) -> bool:
            nonlocal passed
            if part not in name:
                return True
            passed += 1
            return passed <= after

        write_bytes, write_index = Path.write_bytes, faiss.write_index

        def full_write_bytes(self, data):
            if not allowed(self.name):
                raise OSError(errno.ENOSPC, NO_SPACE, str(self))
            return write_bytes(self, data)

        def full_write_index(index, name):
            if not allowed(Path(name).name):
                raise RuntimeError(FAISS_NO_SPACE.format(name))
            return write_index(index, name)

        monkeypatch.setattr(Path, "write_bytes", full_write_bytes)
        monkeypatch.setattr(faiss, "write_index", full_write_index)

    return fill


def _one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    return lines[0]


@pytest.mark.parametrize("part", ["model.safetensors", "gallery.json", "vectors-0.faiss"])
def test_a_full_disk_while_a_gallery_is_created_leaves_no_gallery(lookalike_main, full_disk, image_folder,
                                                                     tiny_model, tmp_path, part):
    gallery = tmp_path / "g"
    full_disk(part)
    code, _, err = lookalike_main("index", image_folder, "--gallery", gallery, "--model", tiny_model, "--workers", 0)
    line = _one_error_line(err)
    assert code == 2 and f"cannot create a gallery in {gallery}" in line and NO_SPACE in line
    assert part in line and "nothing was created" in line
    assert not gallery.exists() and not list(tmp_path.glob(".g.creating-*"))


def test_a_full_disk_at_a_commit_keeps_the_last_commit(lookalike_main, full_disk, image_folder, tiny_model, tmp_path):
    gallery = tmp_path / "g"
    assert lookalike_main("index", image_folder, "--gallery", gallery, "--model", tiny_model, "--workers", 0)[0] == 0
    write_image_folder(image_folder / "more", classes=1, per_class=2)
    full_disk("vectors-")
    code, _, err = lookalike_main("index", image_folder, "--gallery", gallery, "--workers", 0)
    line = _one_error_line(err)
    assert code == 2 and "the commit failed" in line and "vectors-2.faiss" in line and NO_SPACE in line
    assert "still holds what its last commit stored" in line
    with Gallery.open(gallery, read_only=True) as store:
        assert len(store) == 12
    assert not list(gallery.glob(".*.tmp"))


def test_a_full_disk_while_training_keeps_the_last_checkpoint(lookalike_main, full_disk, image_folder, tmp_path,
                                                               monkeypatch):
    out = tmp_path / "m"
    args = ("--image-size", 32, "--head", "32,16", "--batch-size", 4, "--workers", 0, "--precision", "fp32")
    full_disk("state-", after=1)  # the first epoch's checkpoint is written, the second's is not
    code, _, err = lookalike_main("train", image_folder, "--out", out, "--epochs", 2, *args)
    line = err.strip().splitlines()[-1]
    assert code == 2 and line.startswith("error: epoch 2 could not be saved: cannot write") and NO_SPACE in line
    assert "the checkpoint of epoch 1 is intact; make room, then continue with --resume" in line

    monkeypatch.undo()  # room again
    code, out_text, err = lookalike_main("train", image_folder, "--out", out, "--resume")
    assert code == 0 and "resuming" in err and "after epoch 1 of 2" in err and "2 epochs" in out_text
