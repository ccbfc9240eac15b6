"""Label-free diagnostics of an embedding: is it aligned, spread out, and using its dimensions?

A user with no labels cannot measure precision, but can still see whether training did what contrastive training
is meant to do. Three measures on unit-length embeddings, each computed on the validation images' fixed views:
- alignment (Wang & Isola, 2020): the mean squared distance between the two views of one image; lower is better;
- uniformity (same paper, t = 2): the log of the mean Gaussian potential exp(-2 ||x - y||^2) over pairs of
  different images; lower (more negative) means more spread over the sphere, 0 means every point is the same;
- effective rank (RankMe, Garrido et al. 2023): exp of the entropy of the normalised singular values of the
  embedding matrix, from 1 (collapsed to a line) up to min(images, width).
How far each one tracks retrieval quality on real data is measured in BENCHMARKS.md.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch

COLUMNS = ("valid_alignment", "valid_uniformity", "valid_effective_rank")
"""The diagnostics' names in train_log.csv, in this order everywhere."""
SAMPLE = 4096
"""At most this many validation images are measured: uniformity looks at every pair (8 M here), and a rank
measured on a fixed number of images compares across runs of any size."""
UNIFORMITY_T = 2.0
COLLAPSED_RANK = 2.0
"""An effective rank at or below this is a collapse, whatever the width."""
COLLAPSED_UNIFORMITY = -0.1
"""Uniformity this close to 0 means nearly every embedding sits at one point."""


def alignment(first: torch.Tensor, second: torch.Tensor) -> float:
    """Mean squared L2 distance between matching rows (two views of one image), in 0..4 for unit vectors."""
    return float((first.double() - second.double()).pow(2).sum(dim=1).mean())


def uniformity(embeddings: torch.Tensor, t: float = UNIFORMITY_T) -> float:
    """log mean exp(-t ||x_i - x_j||^2) over pairs i < j; between -4t and 0 for unit vectors."""
    if len(embeddings) < 2:
        return math.nan
    distances = torch.pdist(embeddings.double()).pow(2)
    return float(torch.logsumexp(-t * distances, dim=0) - math.log(len(distances)))


def effective_rank(embeddings: torch.Tensor) -> float:
    """RankMe: exp(-sum p log p) with p the singular values divided by their sum."""
    singular = torch.linalg.svdvals(embeddings.double())
    if float(singular.sum()) == 0.0:
        return 0.0
    p = singular / singular.sum()
    p = p[p > 0]
    return float(torch.exp(-(p * p.log()).sum()))


def measure(first: torch.Tensor, second: torch.Tensor) -> dict[str, float]:
    """The three diagnostics of the first `SAMPLE` view pairs, under the names the training log uses."""
    first, second = first[:SAMPLE], second[:SAMPLE]
    return dict(zip(COLUMNS, (alignment(first, second), uniformity(first), effective_rank(first))))


def verdict(first: Mapping[str, float | None], last: Mapping[str, float | None]) -> str | None:
    """One sentence on what training did to the embedding, from the first and last epochs' diagnostics (None when
    the run measured none)."""
    if any(first.get(key) is None or last.get(key) is None for key in COLUMNS):
        return None
    (a0, u0, r0), (a1, u1, r1) = ([float(row[key]) for key in COLUMNS] for row in (first, last))  # type: ignore[arg-type]
    figures = f"alignment {a0:.3f} → {a1:.3f}, uniformity {u0:.2f} → {u1:.2f}, effective rank {r0:.1f} → {r1:.1f}"
    if r1 <= COLLAPSED_RANK or u1 >= COLLAPSED_UNIFORMITY:
        return f"The embedding collapsed: its points crowd together ({figures}); do not trust this model."
    if (a0, u0, r0) == (a1, u1, r1):
        return (f"After one epoch the embedding is not collapsed (alignment {a1:.3f}, uniformity {u1:.2f}, effective "
                f"rank {r1:.1f}); a trend needs more epochs.")
    spread = "spread the embedding out" if u1 < u0 or r1 > r0 else "narrowed the embedding"
    aligned = "pulled views of one image together" if a1 < a0 else "let views of one image drift apart"
    return f"Training {spread} and {aligned} ({figures}, first epoch to last)."
