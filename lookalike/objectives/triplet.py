"""The triplet objective: an anchor should be nearer its positive than any negative, by a margin (FaceNet)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from lookalike.errors import LookalikeError
from lookalike.objectives.base import Objective, ObjectiveOutput, embed_views
from lookalike.objectives.distances import squared_l2
from lookalike.objectives.miners import MINERS, Miner, make_miner
from lookalike.objectives.registry import ObjectiveSpec, Settings, register_objective

# FaceNet's alpha (Schroff et al. 2015). It is a squared L2 distance between unit vectors, which lies in [0, 4],
# so 0.2 asks for a gap of 5% of the whole range between the positive and the negative.
DEFAULT_MARGIN = 0.2


class TripletDistance(nn.Module):
    """The seed's distance layer: (anchor, positive, negative) embeddings -> (d_ap, d_an), squared L2 per triplet."""

    def forward(
        self, anchor: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        return squared_l2(anchor, positive), squared_l2(anchor, negative)


class TripletMarginLoss(nn.Module):
    """mean(relu(d_ap - d_an + margin)): zero once every negative is at least `margin` farther than its positive."""

    def __init__(self, margin: float = DEFAULT_MARGIN) -> None:
        super().__init__()
        if not margin >= 0:
            raise LookalikeError(f"the triplet margin must be zero or more, got {margin}")
        self.margin = float(margin)

    def forward(self, d_ap: torch.Tensor, d_an: torch.Tensor) -> torch.Tensor:
        # Dividing the sum rather than taking the mean turns "no triplets" into a zero loss (not NaN) that is still
        # connected to the inputs, so backward() works on a batch the miner found nothing in.
        return F.relu(d_ap - d_an + self.margin).sum() / max(d_ap.numel(), 1)


def active_fraction(d_ap: torch.Tensor, d_an: torch.Tensor, margin: float) -> float:
    """Share of triplets with a non-zero loss (0.0 when there are none): how much of the batch still teaches."""
    if d_ap.numel() == 0:
        return 0.0
    return float((d_ap.detach() - d_an.detach() + margin > 0).float().mean())


class TripletObjective(Objective):
    """Two views of one image are positives; views of other images in the batch are negatives. Given `identities`,
    every view of the same identity is a positive and views of other identities are negatives (FaceNet).

    The loss reads the head's output, as NT-Xent does. An encoder made to embed from the backbone then searches with
    the features below the head, which the loss has not bent towards the identities it was trained on."""

    name = "triplet"

    def __init__(self, miner: Miner, margin: float = DEFAULT_MARGIN) -> None:
        super().__init__()
        self.miner = miner
        self.distance = TripletDistance()
        self.loss = TripletMarginLoss(margin)

    def forward(
        self,
        encoder: nn.Module,
        first: torch.Tensor,
        second: torch.Tensor,
        generator: torch.Generator | None = None,
        identities: torch.Tensor | None = None,
    ) -> ObjectiveOutput:
        embeddings = torch.cat(embed_views(encoder, first, second, at="head"))
        ids = (torch.arange(len(first), device=embeddings.device) if identities is None else identities).repeat(2)
        anchor, positive, negative = self.miner(embeddings, ids, generator)
        d_ap, d_an = self.distance(embeddings[anchor], embeddings[positive], embeddings[negative])
        stats = {"active": active_fraction(d_ap, d_an, self.loss.margin), "triplets": float(len(anchor))}
        return ObjectiveOutput(self.loss(d_ap, d_an), stats)


def _check(settings: Settings) -> None:
    MINERS[settings["mining"]]  # raises for an unknown name, listing the known ones
    margin = settings["margin"]
    if not isinstance(margin, (int, float)) or not 0 <= margin < math.inf:
        raise LookalikeError(f"the margin must be a finite number, 0 or more, got {margin}")


register_objective(ObjectiveSpec(
    name="triplet",
    summary="a margin loss on triplets mined in the batch",
    settings={"mining": "semihard", "margin": DEFAULT_MARGIN},
    check=_check,
    learns_identities=True,
    # The head serves the loss; search reads the features below it, which carried over better to people never
    # trained on (bench/one_shot.py, BENCHMARKS.md: the same trained models read at either layer).
    embed_from="backbone",
    build=lambda encoder, settings: TripletObjective(make_miner(str(settings["mining"])),
                                                     float(settings["margin"])),
))
