from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from lookalike.data import IMAGE_SUFFIXES, collect_images, discover, find_images, label_for
from lookalike.errors import LookalikeError


def touch(root: Path, *relatives: str) -> None:
    """Discovery goes by names alone, so empty files stand in for images."""
    for relative in relatives:
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()


def relative_names(paths: list[Path], root: Path) -> list[str]:
    return [path.relative_to(root.resolve()).as_posix() for path in paths]


def test_finds_images_recursively_sorted_by_relative_path(tmp_path: Path) -> None:
    touch(tmp_path, "b/2.png", "a/sub/3.webp", "top.bmp", "a/1.jpg", "a/0.gif", "c/d/e/deep.tiff")

    found = find_images(tmp_path)

    assert relative_names(found, tmp_path) == [
        "a/0.gif", "a/1.jpg", "a/sub/3.webp", "b/2.png", "c/d/e/deep.tiff", "top.bmp",
    ]
    assert find_images(tmp_path) == found


def test_suffixes_are_compared_case_insensitively(tmp_path: Path) -> None:
    touch(tmp_path, "a.JPG", "b.Jpeg", "c.TIFF", "d.pgm", "e.PPM")
    assert relative_names(find_images(tmp_path), tmp_path) == ["a.JPG", "b.Jpeg", "c.TIFF", "d.pgm", "e.PPM"]


def test_every_listed_suffix_is_found(tmp_path: Path) -> None:
    touch(tmp_path, *(f"image{suffix}" for suffix in IMAGE_SUFFIXES))
    assert len(find_images(tmp_path)) == len(IMAGE_SUFFIXES) == 10


def test_hidden_files_and_folders_are_skipped(tmp_path: Path) -> None:
    touch(tmp_path, "visible.jpg", ".hidden.jpg", ".cache/x.jpg", "cats/.thumbs/y.png", "cats/z.png")
    assert relative_names(find_images(tmp_path), tmp_path) == ["cats/z.png", "visible.jpg"]


def test_other_suffixes_are_ignored(tmp_path: Path) -> None:
    touch(tmp_path, "photo.jpg", "notes.txt", "photo.jpg.bak", "raw.cr2", "no_suffix", "jpg")
    assert relative_names(find_images(tmp_path), tmp_path) == ["photo.jpg"]


def test_paths_are_absolute_and_resolved(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    touch(tmp_path, "photos/cats/a.jpg")
    monkeypatch.chdir(tmp_path / "photos" / "cats")

    assert find_images("../../photos") == [tmp_path.resolve() / "photos/cats/a.jpg"]


def test_symlinked_folders_are_not_followed(tmp_path: Path) -> None:
    touch(tmp_path, "real/a.jpg", "outside/b.jpg")
    root = tmp_path / "real"
    (root / "loop").symlink_to(root, target_is_directory=True)
    (root / "elsewhere").symlink_to(tmp_path / "outside", target_is_directory=True)
    (root / "linked.jpg").symlink_to(tmp_path / "outside/b.jpg")

    assert relative_names(find_images(root), root) == ["a.jpg", "linked.jpg"]


def test_unreadable_subfolder_is_skipped_with_a_warning(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Simulated, because running as root (as in containers) reads a chmod-000 folder anyway.
    touch(tmp_path, "ok/a.jpg", "locked/b.jpg")
    locked = tmp_path.resolve() / "locked"
    real_scandir = os.scandir

    def scandir(path: Path) -> object:
        if Path(path) == locked:
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(discover.os, "scandir", scandir)
    with pytest.warns(UserWarning, match=re.escape(str(locked))):
        found = find_images(tmp_path)

    assert relative_names(found, tmp_path) == ["ok/a.jpg"]


def test_missing_root_error_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "no_such_folder"
    with pytest.raises(LookalikeError, match=re.escape(str(missing))):
        find_images(missing)


def test_folder_without_images_error_says_what_was_looked_for(tmp_path: Path) -> None:
    touch(tmp_path, "readme.txt", ".hidden.jpg")
    with pytest.raises(LookalikeError) as raised:
        find_images(tmp_path)
    message = str(raised.value)
    assert str(tmp_path) in message
    assert "no image files" in message
    assert ".jpg" in message and ".webp" in message


def test_file_given_as_root_is_refused_clearly(tmp_path: Path) -> None:
    touch(tmp_path, "a.jpg")
    with pytest.raises(LookalikeError, match=r"a\.jpg: is a file, not a folder"):
        find_images(tmp_path / "a.jpg")


def test_label_is_the_first_folder_under_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    touch(tmp_path, "people/alice/1.jpg", "people/bob/holiday/2.jpg", "people/loose.jpg")
    monkeypatch.chdir(tmp_path)
    root = Path("people")

    labels = {path.name: label_for(path, root) for path in find_images(root)}

    assert labels == {"1.jpg": "alice", "2.jpg": "bob", "loose.jpg": None}


def test_label_for_a_path_outside_root_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        label_for(tmp_path / "elsewhere/a.jpg", tmp_path / "people")


def test_collect_keeps_argument_order_expands_folders_and_drops_duplicates(tmp_path: Path) -> None:
    touch(tmp_path, "set/b.png", "set/a.png", "extra/scan.dat", "z.jpg")
    root = tmp_path.resolve()

    collected = collect_images([tmp_path / "z.jpg", tmp_path / "set", str(tmp_path / "extra/scan.dat"),
                                tmp_path / "set/a.png", tmp_path / "z.jpg"])

    assert collected == [root / "z.jpg", root / "set/a.png", root / "set/b.png", root / "extra/scan.dat"]


def test_collect_refuses_a_missing_path_by_name(tmp_path: Path) -> None:
    touch(tmp_path, "a.jpg")
    missing = tmp_path / "missing.jpg"
    with pytest.raises(LookalikeError, match=re.escape(str(missing))):
        collect_images([tmp_path / "a.jpg", missing])


def test_links_that_lead_nowhere_are_listed_so_that_reading_them_names_them(tmp_path: Path) -> None:
    touch(tmp_path, "real.png")
    (tmp_path / "broken.jpg").symlink_to(tmp_path / "gone.jpg")
    (tmp_path / "loop-a.png").symlink_to(tmp_path / "loop-b.png")
    (tmp_path / "loop-b.png").symlink_to(tmp_path / "loop-a.png")
    (tmp_path / "self.jpg").symlink_to(tmp_path / "self.jpg")
    (tmp_path / "notes.txt").symlink_to(tmp_path / "nowhere.txt")  # not an image name: ignored like any other

    assert relative_names(find_images(tmp_path), tmp_path) == [
        "broken.jpg", "loop-a.png", "loop-b.png", "real.png", "self.jpg",
    ]
    assert relative_names(collect_images([tmp_path / "self.jpg", tmp_path / "broken.jpg"]), tmp_path) == [
        "self.jpg", "broken.jpg",
    ]


def test_reading_a_broken_link_or_a_loop_says_which(tmp_path: Path) -> None:
    from lookalike.data import BadImage
    from lookalike.data.decode import read_image_file

    (tmp_path / "broken.jpg").symlink_to("gone.jpg")
    (tmp_path / "self.jpg").symlink_to(tmp_path / "self.jpg")
    with pytest.raises(BadImage, match=r"broken symbolic link \(its target gone.jpg does not exist\)"):
        read_image_file(tmp_path / "broken.jpg")
    with pytest.raises(BadImage, match="symbolic link loop"):
        read_image_file(tmp_path / "self.jpg")
