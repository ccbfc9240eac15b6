"""Squared Euclidean distances, the scale FaceNet's margin is set on (between unit vectors they lie in [0, 4])."""

from __future__ import annotations

import torch


def pairwise_squared_l2(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Every row of x (N, D) against every row of y (M, D) -> (N, M).

    Uses |x|^2 + |y|^2 - 2 x.y, one matmul instead of an N x M x D difference tensor; rounding can push the result
    of near-identical rows slightly below zero, hence the clamp.
    """
    squared_norms_x = x.square().sum(dim=1, keepdim=True)
    squared_norms_y = y.square().sum(dim=1, keepdim=True)
    return (squared_norms_x + squared_norms_y.T - 2.0 * x @ y.T).clamp_min(0.0)


def squared_l2(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Row i of x against row i of y, (N, D) x 2 -> (N,); computed from the difference, so exact and never negative."""
    return (x - y).square().sum(dim=1)
