"""Miners: which (anchor, positive, negative) triplets of a batch the triplet loss is computed on.

Each returns three index tensors of equal length into the batch, as pytorch-metric-learning's miners do, and runs
without gradients: choosing a triplet is not part of the model. All work on masks over the M x M distance matrix.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import torch

from lookalike.objectives.distances import pairwise_squared_l2
from lookalike.registry import Registry

MINERS: Registry[Callable[[], Miner]] = Registry("mining")
"""Each miner by name, filled by `register_miner`; iterating it gives the names."""

Triplets = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


class Miner(Protocol):
    def __call__(
        self, embeddings: torch.Tensor, ids: torch.Tensor, generator: torch.Generator | None = None
    ) -> Triplets:
        """embeddings (M, D) and their image ids (M,) -> (anchor, positive, negative) long indices."""
        ...


def _pair_masks(ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(positive, negative) M x M masks: same id but not the item itself, and a different id."""
    same = ids[:, None] == ids[None, :]
    itself = torch.eye(len(ids), dtype=torch.bool, device=ids.device)
    return same & ~itself, ~same


class RandomMiner:
    """Every ordered positive pair, each with a negative drawn uniformly from the other images' items."""

    @torch.no_grad()
    def __call__(
        self, embeddings: torch.Tensor, ids: torch.Tensor, generator: torch.Generator | None = None
    ) -> Triplets:
        positive, negative = _pair_masks(ids)
        anchor, pos = positive.nonzero(as_tuple=True)
        has_negative = negative[anchor].any(dim=1)
        anchor, pos = anchor[has_negative], pos[has_negative]
        candidates = negative[anchor]
        counts = candidates.sum(dim=1)
        # Drawn on the CPU so a seeded generator gives the same triplets on any device; the k-th candidate of each
        # row is then found where the running count of candidates first reaches k.
        uniform = torch.rand(len(anchor), generator=generator).to(ids.device)
        rank = torch.minimum((uniform * counts).long(), counts - 1)
        neg = torch.searchsorted(candidates.cumsum(dim=1), (rank + 1)[:, None]).squeeze(1)
        return anchor, pos, neg


class BatchHardMiner:
    """Per anchor, its farthest positive and nearest negative (Hermans et al., "In Defense of the Triplet Loss", 2017).

    Anchors without a positive or without a negative in the batch are left out.
    """

    @torch.no_grad()
    def __call__(
        self, embeddings: torch.Tensor, ids: torch.Tensor, generator: torch.Generator | None = None
    ) -> Triplets:
        distances = pairwise_squared_l2(embeddings, embeddings)
        positive, negative = _pair_masks(ids)
        anchor = (positive.any(dim=1) & negative.any(dim=1)).nonzero(as_tuple=True)[0]
        hardest_positive = distances.masked_fill(~positive, -torch.inf).argmax(dim=1)
        hardest_negative = distances.masked_fill(~negative, torch.inf).argmin(dim=1)
        return anchor, hardest_positive[anchor], hardest_negative[anchor]


class SemiHardMiner:
    """Per ordered positive pair, the nearest negative that is still farther than the positive (FaceNet).

    Such a negative does not pull the embedding towards collapse the way the very hardest one can early in
    training. When no negative is farther than the positive, the farthest negative stands in (the least hard of the
    hard ones), as TF-addons' semi-hard loss does. Every positive pair is kept, even when its negative is already a
    margin away (zero loss): the loss is then averaged over a fixed number of pairs per batch, and the share of
    active triplets shows how much of the batch still teaches.
    """

    @torch.no_grad()
    def __call__(
        self, embeddings: torch.Tensor, ids: torch.Tensor, generator: torch.Generator | None = None
    ) -> Triplets:
        distances = pairwise_squared_l2(embeddings, embeddings)
        positive, negative = _pair_masks(ids)
        anchor, pos = positive.nonzero(as_tuple=True)
        d_ap = distances[anchor, pos][:, None]
        d_an = distances[anchor]
        candidates = negative[anchor]
        farther = candidates & (d_an > d_ap)
        has_farther = farther.any(dim=1)
        nearest_farther = d_an.masked_fill(~farther, torch.inf).argmin(dim=1)
        farthest = d_an.masked_fill(~candidates, -torch.inf).argmax(dim=1)
        neg = torch.where(has_farther, nearest_farther, farthest)
        keep = candidates.any(dim=1)
        return anchor[keep], pos[keep], neg[keep]


def register_miner(name: str, make: Callable[[], Miner]) -> None:
    """Make a miner choosable by `name` (``--mining NAME``)."""
    MINERS.register(name, make)


def make_miner(name: str) -> Miner:
    """The miner called `name`."""
    return MINERS[name]()


register_miner("random", RandomMiner)
register_miner("hard", BatchHardMiner)
register_miner("semihard", SemiHardMiner)
