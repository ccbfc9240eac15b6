"""Finding the image files a user points at, in an order that is the same on every machine and every run.

A stable order matters because indices into the file list are used for splits, caches and batch positions.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path

from lookalike.errors import LookalikeError

IMAGE_SUFFIXES: frozenset[str] = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".pgm", ".ppm"}
)
"""Suffixes treated as images when a folder is searched, compared in lower case."""


def find_images(root: str | Path) -> list[Path]:
    """Every image file under ``root``, recursively, sorted by path relative to ``root``.

    Hidden files and folders (names starting with ".") are skipped, and symlinked folders are not followed, so a link
    loop cannot hang the search. Paths are absolute, under the resolved ``root``; a symlinked file keeps its link path
    so that its label is the folder it was placed in. A link with an image suffix that leads nowhere (broken, or a
    loop) is listed too, so that reading it reports it like any other unusable file instead of leaving it out
    silently. An unreadable sub-folder is skipped with a warning.
    Raises LookalikeError when ``root`` is missing, is a file, or holds no images.
    """
    given = Path(root)
    if not given.exists():
        raise LookalikeError(f"{given}: no such folder")
    if not given.is_dir():
        raise LookalikeError(f"{given}: is a file, not a folder of images")
    resolved = given.resolve()
    images = sorted(_walk(resolved), key=lambda path: path.relative_to(resolved).as_posix())
    if not images:
        looked_for = " ".join(sorted(IMAGE_SUFFIXES))
        raise LookalikeError(f"{given}: no image files found (looked for {looked_for}; hidden files are skipped)")
    return images


def _walk(folder: Path) -> Iterator[Path]:
    try:
        with os.scandir(folder) as listing:
            entries = list(listing)
    except OSError as error:
        warnings.warn(f"skipping unreadable folder {folder}: {error.strerror or error}", stacklevel=2)
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        if entry.is_dir(follow_symlinks=False):
            yield from _walk(Path(entry.path))
        elif Path(entry.name).suffix.lower() in IMAGE_SUFFIXES and (_leads_nowhere(entry) or entry.is_file()):
            yield Path(entry.path)


def _leads_nowhere(entry: os.DirEntry) -> bool:
    """A symbolic link whose target cannot be reached: missing, or a loop of links (``is_file`` raises for that)."""
    if not entry.is_symlink():
        return False
    try:
        os.stat(entry.path)
    except OSError:
        return True
    return False


def collect_images(paths: Iterable[str | Path]) -> list[Path]:
    """The files named on a command line: folders are searched with `find_images`, files are kept as given.

    A file named explicitly is kept whatever its suffix, because the user asked for it; the decoder decides whether it
    is an image. The order follows the arguments, and a file reached twice is kept at its first place.
    """
    collected: dict[Path, None] = {}
    for given in map(Path, paths):
        if given.is_dir():
            found = find_images(given)
        elif os.path.lexists(given):  # a file, or a link that leads nowhere: reading it says which
            found = [as_found(given)]
        else:
            raise LookalikeError(f"{given}: no such file or folder")
        collected.update(dict.fromkeys(found))
    return list(collected)


def as_found(path: str | Path) -> Path:
    """The path as `find_images` would spell it: its folder resolved, its own name kept even if it is a link (so a
    link loop is never followed)."""
    path = Path(path)
    return path.parent.resolve() / path.name


def label_for(path: Path, root: Path) -> str | None:
    """The folder directly under ``root`` that holds ``path`` (its class or identity), or None for a file in ``root``.

    Labels exist for evaluation only; nothing that claims to learn without labels may call this.
    Raises ValueError when ``path`` is not under ``root``.
    """
    relative = as_found(Path(path)).relative_to(Path(root).resolve())
    return relative.parts[0] if len(relative.parts) > 1 else None
