"""A tiny encoder and paired views for objective tests: small enough to train in a few steps on the CPU."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class TinyEncoder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(3 * 8 * 8, 16)

    def forward(self, images: torch.Tensor, at: str | None = None) -> torch.Tensor:
        """One layer, which is both the head and the embedding, whatever layer an objective asks for."""
        return F.normalize(self.linear(images.flatten(1)), dim=1)


def noisy_views(batch: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Two noisy views of images that share most of their content, so telling them apart takes some learning."""
    generator = torch.Generator().manual_seed(0)
    images = torch.randn(1, 3, 8, 8, generator=generator) + 0.5 * torch.randn(batch, 3, 8, 8, generator=generator)
    first = images + 0.5 * torch.randn(batch, 3, 8, 8, generator=generator)
    return first, images + 0.5 * torch.randn(batch, 3, 8, 8, generator=generator)
