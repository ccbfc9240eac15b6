"""Shrinkage PCA whitening of embeddings, fitted without labels on a folder of images.

A network trained on a few thousand images spends most of its embedding's variance on a few directions (lighting,
pose, background), so cosine similarity is dominated by them. Whitening centres the embeddings and rescales every
principal direction to comparable variance, so the many small directions in which individuals differ count too.
The variances are shrunk towards the largest (λ + s·λ_max) so that directions the fitting images barely span are
not blown up into noise; this is what lets whitening help on people it was not fitted on.
"""

from __future__ import annotations

import torch
from torch import nn

from lookalike.errors import LookalikeError

DEFAULT_SHRINKAGE = 0.01
"""s in λ + s·λ_max. 0 is plain PCA whitening; large values approach centring alone."""


class Whitening(nn.Module):
    """x -> (x - mean) @ projection, computed in fp32 whatever autocast says, since the projection scales small
    directions up and bf16 would round them away."""

    mean: torch.Tensor
    projection: torch.Tensor

    def __init__(self, in_dim: int, out_dim: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(in_dim))
        self.register_buffer("projection", torch.zeros(in_dim, out_dim))

    def forward(self, vectors: torch.Tensor) -> torch.Tensor:
        with torch.autocast(vectors.device.type, enabled=False):
            return (vectors.float() - self.mean) @ self.projection


def fit_whitening(vectors: torch.Tensor, *, shrinkage: float = DEFAULT_SHRINKAGE, dims: int | None = None
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """The mean and projection (in_dim x dims) that whiten `vectors` (N x in_dim). `dims` keeps that many leading
    principal directions; the default keeps every direction the N vectors span (at most N - 1)."""
    if shrinkage < 0:
        raise LookalikeError(f"shrinkage must be at least 0, got {shrinkage}")
    count, in_dim = vectors.shape
    spanned = min(in_dim, count - 1)
    if spanned < 1:
        raise LookalikeError(f"whitening needs at least 2 images, got {count}")
    dims = spanned if dims is None else dims
    if not 1 <= dims <= spanned:
        raise LookalikeError(f"{count} images of {in_dim}-dimensional embeddings span at most {spanned} "
                             f"directions; --dims {dims} is out of range")
    vectors = vectors.double()
    mean = vectors.mean(dim=0)
    _, singular, directions = torch.linalg.svd(vectors - mean, full_matrices=False)
    variance = singular**2 / (count - 1)
    if variance[0] <= 0:
        raise LookalikeError("every image has the same embedding; there is nothing to whiten")
    scale = (variance[:dims] + shrinkage * variance[0]).clamp_min(1e-12 * variance[0]).rsqrt()
    return mean.float(), (directions[:dims].T * scale).float()
