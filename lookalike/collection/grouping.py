"""Groups from pairs without chains: A ≈ B and B ≈ C put A, B and C together only when A ≈ C as well.

Joining every pair above a threshold (connected components, single linkage) chains: a row of small edits, or a
series of burst shots, drifts from one photo to a quite different one, and all of it lands in one group. Here pairs
are taken from the most alike down, and two groups merge only when every member of one is alike to every member of
the other (complete linkage). The caller checks those pairs afresh (on the stored vectors and prints), rather than
looking them up among the graph's edges, so a pair that the neighbour lists left out still counts when it is alike.
An image that is alike to two groups that are not alike to each other joins the one it is closer to.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def group_without_chains(
    a: np.ndarray,
    b: np.ndarray,
    scores: np.ndarray,
    all_alike: Callable[[list[int], list[int]], bool],
) -> list[list[int]]:
    """Groups of two or more ids from the alike pairs (a[i], b[i]), merged most alike (highest scores[i]) first;
    `all_alike(left, right)` says whether every id of `left` is alike enough to every id of `right` to share a group
    (the caller may ask less of them than of a pair). Largest groups first,
    each sorted; the order is the same on every run."""
    if not len(a):
        return []
    ids = np.unique(np.concatenate([a, b]))
    row = {int(id_): i for i, id_ in enumerate(ids)}
    members: dict[int, list[int]] = {}  # a group's first member's row -> the rows in it
    group_of: dict[int, int] = {}
    for position in np.lexsort((b, a, -scores)):  # most alike first; ties broken by id, so runs agree
        x, y = row[int(a[position])], row[int(b[position])]
        gx, gy = group_of.get(x, x), group_of.get(y, y)
        if gx == gy:
            continue
        left, right = members.get(gx, [x]), members.get(gy, [y])
        if len(left) * len(right) > 1 and not all_alike(ids[left].tolist(), ids[right].tolist()):
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
