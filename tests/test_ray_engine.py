"""`index --engine ray`: Ray Data embeds the files on a local Ray (two CPUs, as the CI machine has), and the gallery
it builds is the one the plain engine builds: the same vectors, hashes, labels and skipped files, hence the same
search answers."""

from __future__ import annotations

import numpy as np
import pytest

import lookalike
from lookalike.embed import EmbedSettings
from lookalike.engines.ray_data import _whole_files

SETTINGS = EmbedSettings(workers=0, precision="fp32")


@pytest.fixture(scope="module")
def local_ray():
    ray = pytest.importorskip("ray", reason="the Ray engine needs the ray extra (make test installs it)")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    yield
    ray.shutdown()


def stored(gallery):
    with lookalike.open(gallery, settings=SETTINGS) as session:
        store = session._store()
        images = {image.path: image for image in store.images()}
        paths = sorted(images)
        return ({path: (images[path].sha256, images[path].label, images[path].region) for path in paths},
                store.vectors([images[path].id for path in paths]))


def test_the_ray_engine_builds_the_gallery_the_plain_engine_builds(local_ray, image_folder, tiny_model, tmp_path):
    (image_folder / "class1" / "broken.jpg").write_bytes(b"not an image")
    reports = {}
    for engine in ("local", "ray"):
        with lookalike.open(tmp_path / engine, tiny_model, settings=SETTINGS) as session:
            reports[engine] = session.index(image_folder, engine=engine)

    assert (reports["ray"].added, [str(bad) for bad in reports["ray"].skipped]) == \
        (reports["local"].added, [str(bad) for bad in reports["local"].skipped]) == \
        (12, [f"{image_folder / 'class1' / 'broken.jpg'}: not an image"])
    plain, on_ray = stored(tmp_path / "local"), stored(tmp_path / "ray")
    assert on_ray[0] == plain[0]
    np.testing.assert_allclose(on_ray[1], plain[1], atol=1e-6)
    query = image_folder / "class2" / "img3.png"
    answers = []
    for engine in ("local", "ray"):
        with lookalike.open(tmp_path / engine, settings=SETTINGS) as session:
            answers.append([hit.image.path for hit in session.search(query, k=5)])
    assert answers[0] == answers[1]

    with lookalike.open(tmp_path / "ray", settings=SETTINGS) as session:  # what is stored is skipped
        again = session.index(image_folder, engine="ray")
    assert (again.added, again.unchanged) == (0, 12)


def batch(rows):
    """A batch as the embedding actors hand it back: (index, region, regions in its file, bad reason) rows."""
    return {"index": np.array([row[0] for row in rows]), "path": np.array([f"/f{row[0]}" for row in rows], object),
            "sha256": np.array([f"h{row[0]}" for row in rows], object),
            "region": np.array([row[1] for row in rows], object), "bad": np.array([row[3] for row in rows], object),
            "rows": np.array([row[2] for row in rows]), "vector": np.eye(4, dtype=np.float32)[[0] * len(rows)]}


def test_a_file_whose_regions_ray_splits_across_batches_is_handed_on_whole():
    batches = [batch([(0, "", 1, ""), (1, "face a", 2, "")]), batch([(1, "face b", 2, ""), (2, "", 1, "unreadable")])]

    first, second = _whole_files(iter(batches), 4)

    assert (first.indices, first.settled) == ([0], 1)
    assert (second.indices, second.regions, second.settled) == ([1, 1], ["face a", "face b"], 2)
    assert [str(bad) for bad in second.skipped] == ["/f2: unreadable"]
    with pytest.raises(lookalike.LookalikeError, match="part of the regions of 1 files"):
        list(_whole_files(iter(batches[:1]), 4))
