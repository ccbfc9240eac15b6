"""The pair objective: a siamese head learns to tell two views of one image from views of two different images."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from lookalike.errors import LookalikeError
from lookalike.models import Encoder
from lookalike.models.pair_head import PAIR_HEADS, PairHead
from lookalike.objectives.base import Objective, ObjectiveOutput, embed_views
from lookalike.objectives.registry import ObjectiveSpec, Settings, register_objective


def random_derangement(n: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """A permutation of range(n), n >= 2, with no fixed points: item i is paired with a random other item.

    It walks a random order and sends each item to the next one (a random n-cycle), which needs no rejection loop;
    not every derangement is reachable, but each item's partner is uniform over the others, which is all a
    "different" pair needs.
    """
    order = torch.randperm(n, generator=generator)
    derangement = torch.empty_like(order)
    derangement[order] = order.roll(-1)
    return derangement


class PairObjective(Objective):
    """Binary cross-entropy on same pairs (two views of image i) and different pairs (view 1 of i, view 2 of j).
    Given `identities`, a pair of two images of the same identity is a same pair too.

    The head is held as a plain attribute, not a submodule: it lives inside the model being trained, whose
    parameters the trainer optimises, so it must not appear a second time in this objective's parameters().
    """

    name = "pair"
    head: PairHead

    def __init__(self, head: PairHead) -> None:
        super().__init__()
        object.__setattr__(self, "head", head)

    def forward(
        self,
        encoder: nn.Module,
        first: torch.Tensor,
        second: torch.Tensor,
        generator: torch.Generator | None = None,
        identities: torch.Tensor | None = None,
    ) -> ObjectiveOutput:
        view1, view2 = embed_views(encoder, first, second)
        partners = view2
        labels = torch.ones(len(first), device=view1.device)
        if len(first) > 1:  # one image has no other image to pair with
            others = random_derangement(len(first), generator).to(view1.device)
            view1 = torch.cat([view1, view1])
            partners = torch.cat([view2, view2[others]])
            same = (torch.zeros(len(first), device=view1.device) if identities is None
                    else (identities == identities[others.to(identities.device)]).float().to(view1.device))
            labels = torch.cat([labels, same])
        logits = self.head(view1, partners)
        accuracy = float(((logits.detach() > 0) == (labels > 0.5)).float().mean())
        return ObjectiveOutput(F.binary_cross_entropy_with_logits(logits, labels), {"pair_accuracy": accuracy})


def _check(settings: Settings) -> None:
    if settings["pair_head"] not in PAIR_HEADS:
        raise LookalikeError(f"unknown pair head {settings['pair_head']!r}; choose one of {', '.join(PAIR_HEADS)}")


def _build(encoder: Encoder, settings: Settings) -> PairObjective:
    if encoder.pair_head is None:
        raise LookalikeError("the pair objective needs an encoder built with a pair head")
    return PairObjective(encoder.pair_head)


register_objective(ObjectiveSpec(
    name="pair",
    summary="a same/different head trained with binary cross-entropy",
    settings={"pair_head": "l1"},
    check=_check,
    build=_build,
    pair_head=lambda settings: str(settings["pair_head"]),
    learns_identities=True,
))
