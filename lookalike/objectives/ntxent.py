"""NT-Xent (InfoNCE), SimCLR's loss: each view must pick out the other view of its image among every view in the
batch, by cosine similarity at a temperature.

Built the way SimCLR describes it: 2N views give a 2N x 2N similarity matrix; each row drops its similarity to
itself, puts its positive first and its 2N - 2 negatives after it, and cross-entropy with label 0 does the rest.
Every size is read from the batch itself, so a short last batch is handled like any other. Under torch.distributed
the views of every process are gathered (with gradients) and serve as negatives, so the loss is that of the global
batch: each process computes the rows of its own views against all columns.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from lookalike import distributed
from lookalike.errors import LookalikeError
from lookalike.objectives.base import Objective, ObjectiveOutput, embed_views
from lookalike.objectives.registry import ObjectiveSpec, Settings, register_objective

DEFAULT_TEMPERATURE = 0.2
"""Measured here (BENCHMARKS.md): 20 epochs of CIFAR-10 at batch 256 reached a linear probe of 0.487 at 0.2 against
0.466 at 0.5, and kNN 0.461 against 0.412. SimCLR's own runs use 0.1-0.5."""


class NTXentLoss(nn.Module):
    """Mean NT-Xent over the 2N rows of two N x D view batches (row i of both comes from image i).

    With `gather`, the batches of all processes form the global batch (a no-op in a single process).
    """

    def __init__(self, temperature: float = DEFAULT_TEMPERATURE, gather: bool = False) -> None:
        super().__init__()
        if not temperature > 0:
            raise LookalikeError(f"the temperature must be above 0, got {temperature}")
        self.temperature = temperature
        self.gather = gather

    def logits(self, first: torch.Tensor, second: torch.Tensor, gather: bool | None = None) -> torch.Tensor:
        """2n x (2N - 1) logits of this process's rows: the positive in column 0, then the negatives.
        `gather` overrides the loss's own setting for this call."""
        if first.shape != second.shape or first.ndim != 2:
            raise LookalikeError(f"NT-Xent needs two N x D batches of the same shape, got {tuple(first.shape)} "
                                 f"and {tuple(second.shape)}")
        local = len(first)
        first, second = F.normalize(first.float(), dim=1), F.normalize(second.float(), dim=1)
        offset = 0
        if self.gather if gather is None else gather:
            offset = distributed.current().rank * local
            first, second = distributed.gather(first), distributed.gather(second)
        total = len(first)  # N, over every process
        views = torch.cat([first, second])  # 2N x D: all first views, then all second views
        mine = torch.arange(offset, offset + local, device=views.device)
        rows = torch.cat([mine, mine + total])  # where this process's views sit among the 2N
        partners = torch.cat([mine + total, mine])
        similarity = views[rows] @ views.T  # 2n x 2N cosine similarities
        positives = similarity.gather(1, partners[:, None])
        others = torch.ones_like(similarity, dtype=torch.bool)
        others[torch.arange(len(rows)), rows] = False  # itself
        others[torch.arange(len(rows)), partners] = False  # its positive
        negatives = similarity[others].view(len(rows), 2 * total - 2)
        return torch.cat([positives, negatives], dim=1) / self.temperature

    def forward(self, first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
        return _positive_first_cross_entropy(self.logits(first, second))


def _positive_first_cross_entropy(logits: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(logits, torch.zeros(len(logits), dtype=torch.long, device=logits.device))


class NTXentObjective(Objective):
    """SimCLR: NT-Xent on the encoder's projection head ("head" layer), whatever layer search later reads.

    Negatives are gathered across processes while training; validation (eval mode) scores the local batch alone,
    so it can run on one process.
    """

    name = "simclr"

    def __init__(self, temperature: float = DEFAULT_TEMPERATURE) -> None:
        super().__init__()
        self.loss = NTXentLoss(temperature, gather=True)

    def forward(
        self,
        encoder: nn.Module,
        first: torch.Tensor,
        second: torch.Tensor,
        generator: torch.Generator | None = None,
    ) -> ObjectiveOutput:
        view1, view2 = embed_views(encoder, first, second, at="head")
        logits = self.loss.logits(view1, view2, gather=self.training)
        loss = _positive_first_cross_entropy(logits)
        top1 = float((logits.detach().argmax(dim=1) == 0).float().mean())
        return ObjectiveOutput(loss, {"positive_top1": top1})


def _check(settings: Settings) -> None:
    temperature = settings["temperature"]
    if not isinstance(temperature, (int, float)) or not 0 < temperature < math.inf:
        raise LookalikeError(f"the temperature must be a finite number above 0, got {temperature}")


# SimCLR's head is a 512 -> 512 -> 128 projection seen only by the loss; search reads the backbone features before
# it, as SimCLR evaluates. NT-Xent needs many negatives: batches of 256, AdamW at 1e-3 after a one-epoch warm-up.
register_objective(ObjectiveSpec(
    name="simclr",
    summary="NT-Xent on two augmented views (SimCLR)",
    settings={"temperature": DEFAULT_TEMPERATURE},
    check=_check,
    build=lambda encoder, settings: NTXentObjective(float(settings["temperature"])),
    views="simclr",
    augments_both=True,
    head=(512, 128),
    embed_from="backbone",
    training={"batch_size": 256, "optimizer": "adamw", "lr": 1e-3, "weight_decay": 1e-6, "warmup_epochs": 1.0},
))
