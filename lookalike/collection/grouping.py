"""Groups from pairs without chains: A ≈ B and B ≈ C put A, B and C together only when A ≈ C as well.

Joining every pair above a threshold (connected components, single linkage) chains: a row of small edits, or a
series of burst shots, drifts from one photo to a quite different one, and all of it lands in one group. Here pairs
are taken from the most alike down, and two groups merge only when every member of one is at least as alike as the
threshold to every member of the other (complete linkage). Each pair is checked on the stored vectors, not looked up
among the graph's edges, so a pair that the neighbour lists left out still counts when it is alike. An image that
is alike to two groups that are not alike to each other joins the one it is closer to.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np


def group_without_chains(
    a: np.ndarray,
    b: np.ndarray,
    scores: np.ndarray,
    threshold: float,
    vectors: Callable[[Sequence[int]], np.ndarray],
) -> list[list[int]]:
    """Groups of two or more ids from the pairs (a[i], b[i]) with similarity scores[i] ≥ threshold; `vectors(ids)`
    gives the unit vectors of ids. Largest groups first, each sorted; the order is the same on every run."""
    keep = scores >= threshold
    a, b, scores = a[keep], b[keep], scores[keep]
    if not len(a):
        return []
    ids = np.unique(np.concatenate([a, b]))
    row = {int(id_): i for i, id_ in enumerate(ids)}
    unit = vectors(ids.tolist())
    members: dict[int, list[int]] = {}  # a group's first member's row -> the rows in it
    group_of: dict[int, int] = {}
    for position in np.lexsort((b, a, -scores)):  # most alike first; ties broken by id, so runs agree
        x, y = row[int(a[position])], row[int(b[position])]
        gx, gy = group_of.get(x, x), group_of.get(y, y)
        if gx == gy:
            continue
        left, right = members.get(gx, [x]), members.get(gy, [y])
        if len(left) * len(right) > 1 and float((unit[left] @ unit[right].T).min()) < threshold:
            continue
        if len(left) < len(right):
            gx, gy, left, right = gy, gx, right, left
        members[gx] = left + right
        members.pop(gy, None)
        for member in right:
            group_of[member] = gx
        group_of.setdefault(gx, gx)
    groups = [sorted(int(ids[member]) for member in rows) for rows in members.values()]
    return sorted(groups, key=lambda group: (-len(group), group[0]))
