"""Crash-safe file writes: write a temporary file beside the target, fsync it, rename it over the target.

A reader sees either the old file or the new one, never half of one, because rename within a folder is atomic on
POSIX file systems. A write that fails (a full disk, no permission) leaves the target as it was and raises
`WriteFailed`, a user's error that names the file and the reason.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lookalike.errors import WriteFailed


def fsync_dir(folder: Path) -> None:
    """Make a rename or a new file in ``folder`` durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(target: str | Path, write: Callable[[Path], object]) -> None:
    """Call ``write(tmp_path)`` to fill a temporary file, then move it over ``target`` durably. An ``OSError`` on
    the way becomes `WriteFailed`."""
    target = Path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as error:
        raise WriteFailed(target, _reason(error)) from error
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
        fsync_dir(target.parent)
    except OSError as error:
        tmp.unlink(missing_ok=True)
        raise WriteFailed(target, _reason(error)) from error
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _reason(error: OSError) -> str:
    return error.strerror or str(error)


def write_bytes_atomic(target: str | Path, data: bytes) -> None:
    write_atomic(target, lambda tmp: tmp.write_bytes(data))


def write_json_atomic(target: str | Path, obj: Any) -> None:
    text = json.dumps(obj, indent=2, sort_keys=True) + "\n"
    write_bytes_atomic(target, text.encode("utf-8"))
