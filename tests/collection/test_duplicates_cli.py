"""`lookalike duplicates` end to end on generated images with planted copies."""

from __future__ import annotations

import json
import shutil

from PIL import Image
from imagegen import write_image_folder


def test_duplicates_finds_planted_copies_reuses_its_work_and_draws_a_contact_sheet(tmp_path, tiny_model,
                                                                                   lookalike_main):
    photos = tmp_path / "photos"
    write_image_folder(photos)
    shutil.copy(photos / "class0" / "img0.jpg", photos / "copy-of-img0.jpg")
    gallery = tmp_path / "gallery"
    assert lookalike_main("index", photos, "--gallery", gallery, "--model", tiny_model, "--workers", "0")[0] == 0

    # The generated images of one class are small variations of one pattern: the tiny random model finds them nearly
    # identical (cosine 0.999) and so do their pixel prints (0.99), so the measured rule may group a class; the
    # planted copy must be in its original's group.
    code, out, err = lookalike_main("duplicates", "--gallery", gallery, "--workers", "0")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "group,path"
    group_of = {path: group for group, path in (line.split(",", 1) for line in lines[1:])}
    assert group_of[str((photos / "class0" / "img0.jpg").resolve())] == group_of[
        str((photos / "copy-of-img0.jpg").resolve())]
    assert "levels for this gallery's model: duplicate: similarity ≥" in err
    assert "searched for the neighbours of 13 new images" in err

    # A lossless copy in another format: the same pixels, so the same embedding.
    Image.open(photos / "class1" / "img1.png").save(photos / "img1-again.bmp")
    assert lookalike_main("index", photos, "--gallery", gallery, "--workers", "0")[0] == 0
    grid = tmp_path / "groups.png"
    code, out, err = lookalike_main("duplicates", "--gallery", gallery, "--threshold", "0.99999", "--json",
                                    "--grid", grid, "--workers", "0")
    assert code == 0, err
    assert "levels for this gallery's model" not in err  # a given threshold needs none
    assert "searched for the neighbours of 1 new image" in err
    groups = [sorted(member["path"].rsplit("/", 1)[1] for member in group) for group in json.loads(out)["groups"]]
    assert sorted(groups) == [["copy-of-img0.jpg", "img0.jpg"], ["img1-again.bmp", "img1.png"]]
    assert Image.open(grid).size[1] >= 2 * 128

    levels = gallery / "collection" / "levels.json"
    measured = levels.stat().st_mtime_ns
    code, _, err = lookalike_main("duplicates", "--gallery", gallery, "--similar", "--workers", "0")
    assert code == 0 and "searched for the neighbours of 0 new images" in err and "similar images" in err
    assert levels.stat().st_mtime_ns == measured  # the levels of this model were read back, not measured again


def test_duplicates_of_a_missing_gallery_is_a_clear_error(tmp_path, lookalike_main):
    code, _, err = lookalike_main("duplicates", "--gallery", tmp_path / "nowhere")
    assert code != 0 and "nowhere" in err and "Traceback" not in err
