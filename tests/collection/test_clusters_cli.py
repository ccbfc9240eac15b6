"""`clusters`, `name-cluster` and `map` end to end on generated images."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from imagegen import write_image_folder


def write_coloured_classes(root: Path, per_class: int = 5) -> None:
    """Three folders of noisy red, green and blue squares: kinds that even the tiny random model keeps apart."""
    rng = np.random.default_rng(0)
    for number, colour in enumerate([(200, 40, 40), (40, 200, 40), (40, 40, 200)]):
        folder = root / f"class{number}"
        folder.mkdir(parents=True)
        for i in range(per_class):
            pixels = np.clip(np.array(colour) + rng.normal(0, 12, (32, 32, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(folder / f"img{i}.{'png' if i % 2 else 'jpg'}", quality=95)


@pytest.mark.parametrize("gallery_name", ["gallery", "gallery.db"], ids=["folder", "milvus-lite"])
def test_cluster_name_recognise_and_map_a_collection(tmp_path, tiny_model, lookalike_main, gallery_name):
    photos = tmp_path / "photos"
    write_coloured_classes(photos)
    gallery = tmp_path / gallery_name
    assert lookalike_main("index", photos, "--gallery", gallery, "--model", tiny_model, "--workers", "0")[0] == 0

    code, out, err = lookalike_main("clusters", "--gallery", gallery)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "cluster,path"
    cluster_of = {path.rsplit("/", 2)[1] + "/" + path.rsplit("/", 1)[1]: key
                  for key, path in (line.split(",", 1) for line in lines[1:])}
    by_class = {name: {key for path, key in cluster_of.items() if path.startswith(name)}
                for name in ("class0", "class1", "class2")}
    assert all(len(keys) == 1 for keys in by_class.values()) and len(set.union(*by_class.values())) == 3
    assert "3 unnamed clusters of at least 3, 0 named, 0 of 15 images in none" in err

    [first] = by_class["class0"]
    code, out, err = lookalike_main("name-cluster", first, "ann", "--gallery", gallery,
                                    "--except", photos / "class0" / "img4.jpg")
    assert code == 0, err
    assert out.strip() == f"enrolled 4 images of cluster {first} as ann"
    assert "1 image left out" in err

    code, out, err = lookalike_main("clusters", "--gallery", gallery, "--json")
    assert code == 0, err
    rows = json.loads(out)["clusters"]
    named = sorted(row["path"].rsplit("/", 1)[1] for row in rows if row["cluster"] == "ann")
    assert named == ["img0.jpg", "img1.png", "img2.jpg", "img3.png"]
    assert [row["cluster"] for row in rows if row["path"].endswith("class0/img4.jpg")] != ["ann"]
    assert lookalike_main("identities", "--gallery", gallery)[1].splitlines() == ["ann,4"]

    code, out, err = lookalike_main("recognize", photos / "class0" / "img4.jpg", "--gallery", gallery,
                                    "--threshold", "0.05")
    assert code == 0 and out.splitlines()[-1].split(",")[1] == "ann", out + err

    code, out, err = lookalike_main("map", "--gallery", gallery, "--out", tmp_path / "map.png", "--method", "pca")
    assert code == 0, err
    assert "15 images by pca, coloured by cluster" in out
    assert Image.open(tmp_path / "map.png").size[0] > 500


def test_name_cluster_before_any_clustering_is_a_clear_error(tmp_path, tiny_model, lookalike_main):
    photos = tmp_path / "photos"
    write_image_folder(photos)
    gallery = tmp_path / "gallery"
    lookalike_main("index", photos, "--gallery", gallery, "--model", tiny_model, "--workers", "0")
    code, _, err = lookalike_main("name-cluster", "1", "ann", "--gallery", gallery)
    assert code == 2 and "run `lookalike clusters` first" in err
