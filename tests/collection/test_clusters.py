"""Clusters on constructed embeddings: no number given, noise left out, and names that no re-run undoes."""

from __future__ import annotations

import numpy as np
import pytest

from lookalike.collection import find_clusters, name_cluster
from lookalike.errors import LookalikeError
from lookalike.gallery.embedded import Gallery
from lookalike.gallery.records import ImageRecord

DIM = 16
MODEL_ID = "constructed"


@pytest.fixture
def gallery(tmp_path):
    store = Gallery.create(tmp_path / "gallery", model_id=MODEL_ID, dim=DIM)
    yield store
    store.close()


def blobs(rng: np.random.Generator, sizes: list[int], spread: float = 0.05) -> list[np.ndarray]:
    """One tight bunch of vectors per size. As with faces, whose embeddings share a region of the space, the bunches
    have a direction in common (+5 on the first axis), so they are closer to each other (cosine about 0.6) than to
    random images (about 0)."""
    common = np.zeros(DIM)
    common[0] = 5
    return [common + rng.standard_normal(DIM) + spread * rng.standard_normal((size, DIM)) for size in sizes]


def add(store: Gallery, prefix: str, groups: list[np.ndarray]) -> None:
    names = [f"{prefix}{g}-{i}" for g, group in enumerate(groups) for i in range(len(group))]
    vectors = np.concatenate(groups).astype(np.float32)
    store.add([ImageRecord(path=f"/photos/{name}.jpg", size=1, mtime_ns=0, sha256="0" * 64) for name in names],
              vectors / np.linalg.norm(vectors, axis=1, keepdims=True), model_id=MODEL_ID)
    store.commit()


def members(cluster) -> list[str]:
    return sorted(image.path.rsplit("/", 1)[1][:-4] for image in cluster.images)


def test_clusters_are_found_without_their_number_and_loners_are_noise(gallery):
    rng = np.random.default_rng(0)
    add(gallery, "p", blobs(rng, [8, 6, 5]))
    loners = rng.standard_normal((6, DIM))
    loners[:, 0] = -np.abs(loners[:, 0])  # on the other side of the space from the bunches
    add(gallery, "loner", [loners])
    report = find_clusters(gallery)
    assert [members(cluster) for cluster in report.clusters] == [
        [f"p0-{i}" for i in range(8)], [f"p1-{i}" for i in range(6)], [f"p2-{i}" for i in range(5)]]
    assert [cluster.key for cluster in report.clusters] == ["1", "2", "3"]
    assert sorted(image.path for image in report.noise) == [f"/photos/loner0-{i}.jpg" for i in range(6)]
    assert report.images == 25


def test_a_bunch_smaller_than_the_minimum_is_no_cluster_of_its_own(gallery):
    rng = np.random.default_rng(1)
    add(gallery, "p", blobs(rng, [6, 5, 2]))
    pair = ["p2-0", "p2-1"]
    at_three = [members(cluster) for cluster in find_clusters(gallery, min_size=3).clusters]
    assert len(at_three) == 2 and pair not in at_three  # the pair is noise, or the edge of a larger bunch
    with pytest.raises(LookalikeError, match="at least 2"):
        find_clusters(gallery, min_size=1)


def test_names_merges_and_splits_survive_a_rerun_with_new_photos(gallery):
    rng = np.random.default_rng(2)
    ann, bob, cat = blobs(rng, [6, 6, 6])
    add(gallery, "first", [ann, bob, cat])
    keys = {members(cluster)[0].split("-")[0]: cluster.key for cluster in find_clusters(gallery).clusters}

    # Cluster "first1" holds one of Ann's photos that does not belong to Bob: split it off when naming.
    naming = name_cluster(gallery, keys["first0"], "ann")
    assert (naming.named, naming.joined) == (6, False)
    naming = name_cluster(gallery, keys["first1"], "bob", except_paths=["/photos/first1-0.jpg"])
    assert (naming.named, naming.left_out) == (5, 1)
    # Cat's cluster is Ann too, say: naming it "ann" merges it into her.
    assert name_cluster(gallery, keys["first2"], "ann").joined

    # New photos of Bob arrive; the re-run keeps every name and clusters only what is unnamed.
    add(gallery, "new", [bob[:4] + 0.01 * rng.standard_normal((4, DIM))])
    report = find_clusters(gallery)
    named = {cluster.key: members(cluster) for cluster in report.clusters if cluster.named}
    assert named == {"ann": sorted([f"first0-{i}" for i in range(6)] + [f"first2-{i}" for i in range(6)]),
                     "bob": [f"first1-{i}" for i in range(1, 6)]}
    unnamed = [members(cluster) for cluster in report.clusters if not cluster.named]
    assert unnamed == [["first1-0", "new0-0", "new0-1", "new0-2", "new0-3"]]  # clustered again, never taken from Bob
    assert gallery.identities() == {"ann": 12, "bob": 5}


def test_naming_a_cluster_that_was_never_made_says_so(gallery):
    rng = np.random.default_rng(3)
    add(gallery, "p", blobs(rng, [5]))
    with pytest.raises(LookalikeError, match="run `lookalike clusters` first"):
        name_cluster(gallery, "1", "ann")
    find_clusters(gallery)
    with pytest.raises(LookalikeError, match="no cluster '7'"):
        name_cluster(gallery, "7", "ann")
    with pytest.raises(LookalikeError, match="empty"):
        name_cluster(gallery, "1", "  ")
