"""What every training objective takes and returns, so the trainer can swap one for another."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class ObjectiveOutput:
    loss: torch.Tensor  # scalar, differentiable
    stats: dict[str, float]  # detached numbers to log, e.g. {"active": 0.42}


class Objective(nn.Module, ABC):
    """A loss over two augmented views of the same B images (row i of both views comes from image i).

    The objective runs the encoder itself rather than taking embeddings, so an objective may embed through a part
    of the model the others do not use (a projection head, say). An objective whose spec says it learns identities
    also takes ``identities`` (B integers) when training by identity: images with the same one are positives.
    """

    name: str

    @abstractmethod
    def forward(
        self,
        encoder: nn.Module,
        first: torch.Tensor,
        second: torch.Tensor,
        generator: torch.Generator | None = None,
    ) -> ObjectiveOutput:
        """`generator` (CPU, or None for the global one) drives any sampling, so a seeded run repeats exactly."""


def embed_views(
    encoder: nn.Module, first: torch.Tensor, second: torch.Tensor, at: str | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Both views' embeddings from one forward pass, so batch norm sees the two views together. `at` names the
    encoder layer to read ("head" or "backbone"); None reads the encoder's own embedding layer."""
    both = torch.cat([first, second])
    embeddings = encoder(both) if at is None else encoder(both, at=at)
    return embeddings[: len(first)], embeddings[len(first) :]
