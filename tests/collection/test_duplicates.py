"""Near-duplicate groups on constructed embeddings: chains, threshold edges, images left alone, incremental runs."""

from __future__ import annotations

import numpy as np
import pytest

from lookalike.collection import find_duplicates
from lookalike.collection.grouping import group_without_chains
from lookalike.collection.levels import DuplicateRule, choose_rule
from lookalike.collection.neighbours import graph_file, update_neighbours
from lookalike.errors import LookalikeError
from lookalike.gallery.embedded import Gallery
from lookalike.gallery.records import ImageRecord

DIM = 16
MODEL_ID = "constructed"


def unit(rows: np.ndarray) -> np.ndarray:
    rows = np.asarray(rows, dtype=np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def at_angles(degrees: list[float]) -> np.ndarray:
    """Unit vectors in one plane at these angles: the cosine similarity of two is the cosine of their gap."""
    radians = np.radians(degrees)
    vectors = np.zeros((len(degrees), DIM), np.float32)
    vectors[:, 0], vectors[:, 1] = np.cos(radians), np.sin(radians)
    return vectors


def records(names: list[str]) -> list[ImageRecord]:
    return [ImageRecord(path=f"/photos/{name}.jpg", size=1, mtime_ns=0, sha256="0" * 64) for name in names]


@pytest.fixture
def gallery(tmp_path):
    store = Gallery.create(tmp_path / "gallery", model_id=MODEL_ID, dim=DIM)
    yield store
    store.close()


def add(store: Gallery, names: list[str], vectors: np.ndarray) -> None:
    store.add(records(names), unit(vectors), model_id=MODEL_ID)
    store.commit()


def groups_by_name(store: Gallery, threshold: float) -> list[list[str]]:
    report = find_duplicates(store, model=None, threshold=threshold)  # type: ignore[arg-type]  # no levels needed
    return [[image.path.rsplit("/", 1)[1][:-4] for image in group.images] for group in report.groups]


def test_a_chain_does_not_join_its_ends(gallery):
    # A-B and B-C are 20° apart (cos 0.94), A-C 40° (cos 0.77): at 0.9 A and C must not share a group. C is a little
    # closer to B (19°), so B goes with C and A is left alone.
    add(gallery, ["a", "b", "c"], at_angles([0, 20, 39]))
    assert groups_by_name(gallery, 0.9) == [["b", "c"]]
    # Looser than A-C, all three belong together.
    assert groups_by_name(gallery, 0.7) == [["a", "b", "c"]]


def test_single_linkage_would_chain_what_complete_linkage_keeps_apart():
    # Five images 10° apart along an arc: every neighbour pair is at cos 0.985, the ends 40° apart.
    vectors = at_angles([0, 10, 20, 30, 40])
    ids = np.arange(5)
    a, b = ids[:-1], ids[1:]
    scores = np.sum(vectors[a] * vectors[b], axis=1)
    groups = group_without_chains(
        a, b, scores, lambda left, right: bool((vectors[left] @ vectors[right].T >= 0.98).all()))
    assert all(float((vectors[g] @ vectors[g].T).min()) >= 0.98 for g in map(np.asarray, groups))
    assert sum(len(group) for group in groups) <= 5 and len(groups) == 2  # never one chain of five


def test_the_threshold_is_inclusive_and_a_hair_above_it_splits(gallery):
    vectors = at_angles([0, 30])
    add(gallery, ["x", "y"], vectors)
    similarity = float(unit(vectors)[0] @ unit(vectors)[1])
    assert groups_by_name(gallery, similarity - 1e-6) == [["x", "y"]]
    assert groups_by_name(gallery, min(1.0, similarity + 1e-4)) == []


def test_images_alike_to_nothing_are_in_no_group(gallery):
    rng = np.random.default_rng(0)
    noise = rng.standard_normal((20, DIM))
    copies = noise[:3] + 0.01 * rng.standard_normal((3, DIM))
    add(gallery, [f"n{i}" for i in range(20)] + ["c0", "c1", "c2"], np.concatenate([noise, copies]))
    assert sorted(map(sorted, groups_by_name(gallery, 0.95))) == [["c0", "n0"], ["c1", "n1"], ["c2", "n2"]]


def test_a_rerun_searches_only_the_new_images_and_forgets_removed_ones(gallery):
    rng = np.random.default_rng(1)
    base = rng.standard_normal((30, DIM))
    add(gallery, [f"p{i}" for i in range(30)], base)
    first = update_neighbours(gallery)
    assert first.searched == 30 and graph_file(gallery).is_file()
    assert update_neighbours(gallery).searched == 0  # nothing new: nothing searched

    add(gallery, ["copy-of-p5"], base[5:6] + 0.01 * rng.standard_normal((1, DIM)))
    again = update_neighbours(gallery)
    assert again.searched == 1 and len(again.graph) == 31
    assert ["copy-of-p5", "p5"] in [sorted(group) for group in groups_by_name(gallery, 0.95)]

    gallery.remove(["/photos/p5.jpg"])
    gallery.commit()
    after = update_neighbours(gallery)
    assert (after.searched, after.dropped, len(after.graph)) == (0, 1, 30)
    stored = [image.id for image in gallery.images()]
    assert sorted(after.graph.ids) == stored
    assert np.isin(after.graph.neighbours[after.graph.neighbours >= 0], stored).all()  # no edge to a removed image
    assert groups_by_name(gallery, 0.95) == []


def test_an_incremental_graph_groups_as_a_rebuilt_one(gallery):
    rng = np.random.default_rng(2)
    base = rng.standard_normal((40, DIM))
    add(gallery, [f"p{i}" for i in range(40)], base)
    update_neighbours(gallery)
    add(gallery, [f"q{i}" for i in range(10)], base[:10] + 0.02 * rng.standard_normal((10, DIM)))
    incremental = groups_by_name(gallery, 0.95)
    update_neighbours(gallery, rebuild=True)
    assert groups_by_name(gallery, 0.95) == incremental and len(incremental) == 10


def test_a_damaged_or_foreign_graph_is_built_again(gallery):
    add(gallery, ["a", "b"], at_angles([0, 5]))
    update_neighbours(gallery)
    graph_file(gallery).write_bytes(b"not a safetensors file")
    assert update_neighbours(gallery).searched == 2
    assert groups_by_name(gallery, 0.99) == [["a", "b"]]


def test_a_threshold_outside_the_cosine_range_is_refused(gallery):
    add(gallery, ["a"], at_angles([0]))
    with pytest.raises(LookalikeError, match="between -1 and 1"):
        find_duplicates(gallery, model=None, threshold=1.5)  # type: ignore[arg-type]
    with pytest.raises(LookalikeError, match="unknown level"):
        find_duplicates(gallery, model=None, level="twins")  # type: ignore[arg-type]


def test_the_rule_keeps_the_most_copies_that_lets_few_others_through():
    # Five copies: three alike to the model, two that lost detail (low cosine) but kept their pixels. Fifty other
    # photos near 0.9 to the model, whose pixels differ, and one at 0.99 (2 % may pass, one does).
    copies, copy_pixels = np.array([0.99, 0.98, 0.97, 0.80, 0.82]), np.array([0.97, 0.5, 0.6, 0.95, 0.96])
    others = np.append(np.linspace(0.85, 0.95, 50), 0.99)
    other_pixels = np.append(np.linspace(0.1, 0.7, 50), 0.2)
    rule, recall, false = choose_rule(copies, copy_pixels, others, other_pixels)
    assert recall == 1.0 and false <= 0.02
    assert rule.model > 0.95 and rule.candidate <= 0.80 and 0.7 < rule.pixel <= 0.95
    # Without prints the model alone decides: its level must stay over the others' 0.95, losing the weak copies.
    alone, recall_alone, _ = choose_rule(copies, np.full(5, np.nan), others, np.full(51, np.nan))
    assert alone.pixel is None and 0.95 < alone.model <= 0.97 and recall_alone == 0.6


def test_a_rule_is_inclusive_at_its_levels_and_needs_prints_only_between_them():
    rule = DuplicateRule(model=0.9, candidate=0.6, pixel=0.8)
    cosine = np.array([0.9, 0.7, 0.7, 0.7, 0.59])
    pixels = np.array([np.nan, 0.8, 0.79, np.nan, 1.0])  # NaN: no print, never alike by pixels
    assert rule.alike(cosine, pixels).tolist() == [True, True, False, False, False]
    assert rule.needs_prints(cosine).tolist() == [False, True, True, True, False]
    assert rule.lowest == 0.6 and DuplicateRule(0.9, 0.9).lowest == 0.9
