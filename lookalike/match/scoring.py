"""How far apart two embeddings are, for verification and recognition: one number, lower meaning more alike.

Two ways to score, behind one interface so the decision logic never cares which: 1 − cosine similarity (in [0, 2])
for any encoder, and 1 − P(same) from the pair head (in [0, 1]) for a model trained with one. A threshold τ is
always a distance of the kind that produced it.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import torch

from lookalike.models import Encoder
from lookalike.models.pair_head import PairHead

_CHUNK = 4096  # pairs per pair-head call, so a large gallery does not need one huge batch


class Distance(Protocol):
    name: str

    def paired(self, first: np.ndarray, second: np.ndarray) -> np.ndarray:
        """Distances of row i of `first` to row i of `second`, (N,)."""

    def pairwise(self, queries: np.ndarray, references: np.ndarray) -> np.ndarray:
        """Distances of every query to every reference, (Q, N)."""


class CosineDistance:
    """1 − cosine similarity of unit vectors: 0 for the same direction, 1 for unrelated, 2 for opposite."""

    name = "cosine"

    def paired(self, first: np.ndarray, second: np.ndarray) -> np.ndarray:
        return np.clip(1.0 - np.einsum("nd,nd->n", first, second), 0.0, 2.0)

    def pairwise(self, queries: np.ndarray, references: np.ndarray) -> np.ndarray:
        return np.clip(1.0 - queries @ references.T, 0.0, 2.0)


class PairHeadDistance:
    """1 − the pair head's probability that two embeddings show the same thing."""

    name = "pair head"

    def __init__(self, head: PairHead) -> None:
        self.head = head.eval()

    @torch.inference_mode()
    def paired(self, first: np.ndarray, second: np.ndarray) -> np.ndarray:
        out = np.empty(len(first), dtype=np.float32)
        for start in range(0, len(first), _CHUNK):
            a = torch.from_numpy(np.ascontiguousarray(first[start:start + _CHUNK]))
            b = torch.from_numpy(np.ascontiguousarray(second[start:start + _CHUNK]))
            out[start:start + len(a)] = (1.0 - self.head.probability(a, b)).numpy()
        return out

    def pairwise(self, queries: np.ndarray, references: np.ndarray) -> np.ndarray:
        rows = np.repeat(np.arange(len(queries)), len(references))
        columns = np.tile(np.arange(len(references)), len(queries))
        return self.paired(queries[rows], references[columns]).reshape(len(queries), len(references))


def distance_for(encoder: Encoder) -> Distance:
    """The pair head's distance when the model has a head (it was trained to decide exactly this), else cosine."""
    head = getattr(encoder, "pair_head", None)
    return PairHeadDistance(head.cpu().float()) if head is not None else CosineDistance()
