import pytest
import torch

from lookalike.errors import LookalikeError
from lookalike.objectives import MINERS, BatchHardMiner, RandomMiner, SemiHardMiner, make_miner


def _line(*positions: float) -> torch.Tensor:
    """Points on a line, so every squared distance can be read off by hand."""
    return torch.tensor(positions)[:, None]


def _triplets(miner, embeddings, ids, generator=None) -> list[tuple[int, int, int]]:
    anchor, positive, negative = miner(embeddings, ids, generator)
    return list(zip(anchor.tolist(), positive.tolist(), negative.tolist()))


# ids 0, 0, 0 | 1, 1 | 2 at positions 0, 1, 3 | 5, 10 | -1.5
LINE = _line(0.0, 1.0, 3.0, 5.0, 10.0, -1.5)
LINE_IDS = torch.tensor([0, 0, 0, 1, 1, 2])


def test_batch_hard_takes_the_farthest_positive_and_the_nearest_negative():
    # Item 5 has no positive, so it anchors nothing.
    assert _triplets(BatchHardMiner(), LINE, LINE_IDS) == [(0, 2, 5), (1, 2, 5), (2, 0, 3), (3, 4, 2), (4, 3, 2)]


def test_semi_hard_takes_the_nearest_negative_farther_than_the_positive():
    # Every ordered positive pair shows its choice. (2, 1): d_ap = 4 and item 3 is at exactly 4, not farther, so the
    # next one out (item 5, 20.25) is chosen.
    assert _triplets(SemiHardMiner(), LINE, LINE_IDS) == [
        (0, 1, 5),
        (0, 2, 3),
        (1, 0, 5),
        (1, 2, 5),
        (2, 0, 5),
        (2, 1, 5),
        (3, 4, 5),
        (4, 3, 2),
    ]


def test_semi_hard_falls_back_to_the_farthest_negative_when_none_is_farther_than_the_positive():
    # The positives are 100 apart; every negative is nearer than that.
    embeddings, ids = _line(0.0, 10.0, 3.0, 4.0), torch.tensor([0, 0, 1, 2])
    assert _triplets(SemiHardMiner(), embeddings, ids) == [(0, 1, 3), (1, 0, 2)]


def test_random_miner_uses_every_ordered_positive_pair():
    anchor, positive, _ = RandomMiner()(LINE, LINE_IDS, torch.Generator().manual_seed(0))
    assert sorted(zip(anchor.tolist(), positive.tolist())) == [
        (0, 1), (0, 2), (1, 0), (1, 2), (2, 0), (2, 1), (3, 4), (4, 3)
    ]  # fmt: skip


def test_random_negatives_are_never_the_anchors_image_and_cover_every_other_image():
    ids = torch.tensor([0, 0, 1, 1, 2, 2])
    embeddings = torch.randn(6, 4)
    generator = torch.Generator().manual_seed(0)
    drawn: dict[int, set[int]] = {i: set() for i in range(6)}
    for _ in range(200):
        anchor, _, negative = RandomMiner()(embeddings, ids, generator)
        assert (ids[negative] != ids[anchor]).all()
        for a, n in zip(anchor.tolist(), negative.tolist()):
            drawn[a].add(n)
    assert all(drawn[a] == {i for i in range(6) if ids[i] != ids[a]} for a in range(6))


def test_random_miner_repeats_with_the_same_seed():
    embeddings, ids = torch.randn(8, 4), torch.arange(4).repeat(2)
    first = RandomMiner()(embeddings, ids, torch.Generator().manual_seed(3))
    again = RandomMiner()(embeddings, ids, torch.Generator().manual_seed(3))
    assert all(torch.equal(x, y) for x, y in zip(first, again))


@pytest.mark.parametrize("name", MINERS)
def test_every_miner_returns_valid_triplets(name):
    generator = torch.Generator().manual_seed(1)
    embeddings = torch.nn.functional.normalize(torch.randn(24, 8, generator=generator), dim=1)
    ids = torch.arange(8).repeat(3)
    anchor, positive, negative = make_miner(name)(embeddings, ids, generator)
    assert len(anchor) == len(positive) == len(negative) > 0
    assert anchor.dtype == positive.dtype == negative.dtype == torch.long
    assert (ids[positive] == ids[anchor]).all() and (positive != anchor).all()
    assert (ids[negative] != ids[anchor]).all()


@pytest.mark.parametrize("name", MINERS)
@pytest.mark.parametrize("ids", [torch.zeros(4, dtype=torch.long), torch.arange(4)], ids=["one image", "no repeats"])
def test_batches_without_a_valid_triplet_give_empty_indices(name, ids):
    triplets = make_miner(name)(torch.randn(4, 3), ids, torch.Generator().manual_seed(0))
    assert [len(t) for t in triplets] == [0, 0, 0]
    assert all(t.dtype == torch.long for t in triplets)


def test_make_miner_builds_the_named_miner():
    assert isinstance(make_miner("semihard"), SemiHardMiner)
    assert isinstance(make_miner("hard"), BatchHardMiner)
    assert isinstance(make_miner("random"), RandomMiner)


def test_unknown_miner_lists_the_known_ones():
    with pytest.raises(LookalikeError, match="random, hard, semihard"):
        make_miner("hardest")
