"""Retrieval quality from ranked results and folder labels: precision@1, R-precision and mAP@R.

R is the number of gallery items that share the query's label. The three follow Musgrave et al., "A Metric
Learning Reality Check" (2020): mAP@R rewards putting all same-label items at the top, not just one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class RetrievalScores:
    precision_at_1: float
    r_precision: float
    map_at_r: float
    queries: int  # queries that had at least one relevant gallery item


Labels = Sequence[object] | np.ndarray
"""Class labels of any kind (folder names, integer classes) as a list or an array."""


def retrieval_scores(
    query_labels: Labels, ranked_labels: Sequence[Labels], relevant_counts: Sequence[int] | np.ndarray
) -> RetrievalScores:
    """Scores of ranked gallery labels against each query's label.

    `ranked_labels[i]` lists the labels of query i's hits, best first, at least `relevant_counts[i]` of them
    (or every gallery item); queries with no relevant item in the gallery are left out.
    """
    if not len(query_labels) == len(ranked_labels) == len(relevant_counts):
        raise ValueError("query_labels, ranked_labels and relevant_counts must have the same length")
    p1, rp, map_r = [], [], []
    for label, ranked, r in zip(query_labels, ranked_labels, relevant_counts):
        if r == 0:
            continue
        relevant = np.array([hit == label for hit in ranked[:r]], dtype=np.float64)
        if len(relevant) < r:
            relevant = np.pad(relevant, (0, r - len(relevant)))  # missing ranks count as misses
        precision_at_rank = np.cumsum(relevant) / np.arange(1, r + 1)
        p1.append(relevant[0])
        rp.append(relevant.sum() / r)
        map_r.append(float((precision_at_rank * relevant).sum() / r))
    if not p1:
        return RetrievalScores(float("nan"), float("nan"), float("nan"), 0)
    return RetrievalScores(float(np.mean(p1)), float(np.mean(rp)), float(np.mean(map_r)), len(p1))
