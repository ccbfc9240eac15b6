"""A siamese verification head: two embeddings in, one "same image?" logit out.

It scores a pair by a learned weighted sum of per-dimension differences, so a trained head can weigh the dimensions
that separate views of one image from different images, which a fixed cosine threshold cannot.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from lookalike.errors import LookalikeError

PAIR_HEADS = ("l1", "chi2")

# The initial logit gap between identical and unrelated embeddings (see PairHead.__init__).
_SCALE = 8.0

# Keeps the chi-squared term defined where both features are zero.
_CHI2_EPS = 1e-6


def _l1(first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
    """|f1 - f2| per dimension, as in Koch et al.'s siamese networks (2015)."""
    return (first - second).abs()


def _chi2(first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
    """(f1 - f2)^2 / (|f1| + |f2| + eps) per dimension, DeepFace's chi-squared similarity (Taigman et al. 2014).

    For non-negative features (DeepFace's ReLU outputs) this is the classic (f1 - f2)^2 / (f1 + f2); the absolute
    values keep it defined and non-negative for our signed unit-length embeddings.
    """
    return (first - second).square() / (first.abs() + second.abs() + _CHI2_EPS)


_PHI = {"l1": _l1, "chi2": _chi2}


class PairHead(nn.Module):
    """Siamese same/different head: logit = sum_k w_k * phi_k(f1, f2) + b."""

    def __init__(self, dim: int, kind: str = "l1") -> None:
        super().__init__()
        if kind not in PAIR_HEADS:
            raise LookalikeError(f"unknown pair head {kind!r}; choose one of {', '.join(PAIR_HEADS)}")
        self.kind = kind
        self.linear = nn.Linear(dim, 1)
        # An untrained head already says "larger difference, less likely the same": with every weight at
        # -_SCALE/sqrt(dim), two unrelated unit vectors score about -_SCALE whatever dim is (2/sqrt(pi) * _SCALE for
        # l1, ~_SCALE for chi2) and identical ones score 0, so a bias of _SCALE/2 puts the boundary between them.
        # The scale matters: unit vectors differ by little per dimension, and with weights near 1/sqrt(dim) the
        # logits could not leave (-1, 1), which caps how confident the head can become before its weights grow.
        nn.init.constant_(self.linear.weight, -_SCALE / math.sqrt(dim))
        nn.init.constant_(self.linear.bias, _SCALE / 2)

    def forward(self, first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
        """Logits (N,) that row i of `first` and row i of `second` show the same image."""
        phi = _PHI[self.kind](first.float(), second.float())
        return self.linear(phi).squeeze(-1)

    def probability(self, first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
        """P(same) per pair, (N,)."""
        return torch.sigmoid(self(first, second))
