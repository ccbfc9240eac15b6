"""Turn labelled pair distances into a verification threshold, and say how good that threshold is.

A distance alone does not answer "same or not"; a threshold τ does, and it should be read off labelled pairs rather
than guessed. A pair is accepted (declared "same") when d < τ. Over labelled pairs, FAR(τ) is the share of impostor
pairs accepted and TAR(τ) the share of genuine pairs accepted; the ROC curve, its AUC, the equal error rate and the
best TAR under a FAR budget all follow from one sort of the distances.

Thresholds sit between observed distances, never on one: accepting exactly the pairs with d <= v uses the midpoint
between v and the next larger distinct distance, so a threshold does not hinge on how a tie with v is broken. The
thresholds are float64; a pair whose distance is computed at lower precision could round onto one of its neighbours.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from lookalike.errors import LookalikeError

DEFAULT_FAR_TARGETS = (1e-2, 1e-3)


def labelled_pairs(
    labels: Sequence[str], *, max_impostors: int | None = 200_000, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(i, j, same) arrays of pairs i < j, sorted by (i, j): every genuine pair, and every impostor pair or, when
    there are more than max_impostors, a uniform random sample of max_impostors of them (seeded).

    Genuine pairs are all kept because they are the scarce kind (sum of C(n_k, 2) over identities); impostor pairs
    grow as N^2, so they are drawn directly, and listed in full only when there are at most twice as many as wanted.
    """
    whole = isinstance(max_impostors, (int, np.integer)) and not isinstance(max_impostors, bool)
    if max_impostors is not None and not (whole and max_impostors >= 1):
        raise LookalikeError(f"max_impostors must be a positive whole number or None, not {max_impostors!r}")
    _, codes = np.unique(np.asarray(list(labels), dtype=object).astype(str), return_inverse=True)
    codes = codes.reshape(-1)
    n = len(codes)
    # Items grouped by identity: identity c holds members[start[c]:start[c] + size[c]], each block ascending.
    members = np.argsort(codes, kind="stable")
    size = np.bincount(codes)
    start = np.concatenate([[0], np.cumsum(size)[:-1]])
    genuine_total = int((size * (size - 1) // 2).sum())
    impostor_total = n * (n - 1) // 2 - genuine_total
    if genuine_total == 0:
        raise LookalikeError(f"no genuine pair among {n} items: every identity has a single image")
    if impostor_total == 0:
        raise LookalikeError(f"no impostor pair among {n} items: they all have one identity")

    genuine_keys = []
    for c in np.flatnonzero(size >= 2):
        block = members[start[c]:start[c] + size[c]]
        a, b = np.triu_indices(size[c], k=1)
        genuine_keys.append(block[a].astype(np.int64) * n + block[b])
    keys = [np.concatenate(genuine_keys)]

    if max_impostors is None or impostor_total <= max_impostors:
        keys.append(_all_impostor_keys(members, start, size, n))
    elif 2 * max_impostors >= impostor_total:
        # Most of them are wanted: listing them all costs at most twice the sample, and avoids a long tail of
        # duplicate draws.
        every = _all_impostor_keys(members, start, size, n)
        rng = np.random.default_rng(seed)
        keys.append(rng.choice(every, size=max_impostors, replace=False))
    else:
        keys.append(_sampled_impostor_keys(codes, members, start, size, max_impostors, seed))

    key = np.sort(np.concatenate(keys))
    i, j = np.divmod(key, n)
    same = codes[i] == codes[j]
    return i, j, same


def _all_impostor_keys(members: np.ndarray, start: np.ndarray, size: np.ndarray, n: int) -> np.ndarray:
    """Keys i * n + j of every impostor pair i < j, one identity at a time against all items of the others."""
    keys = []
    for c in range(len(size)):
        own = members[start[c]:start[c] + size[c]]
        others = np.concatenate([members[:start[c]], members[start[c] + size[c]:]])
        i = np.repeat(own, len(others))
        j = np.tile(others, len(own))
        keep = i < j
        keys.append(i[keep].astype(np.int64) * n + j[keep])
    return np.concatenate(keys)


def _sampled_impostor_keys(
    codes: np.ndarray, members: np.ndarray, start: np.ndarray, size: np.ndarray, count: int, seed: int
) -> np.ndarray:
    """Keys of `count` distinct impostor pairs, uniform over all of them, without rejecting same-label draws.

    An ordered impostor pair (first, second) is drawn uniformly by taking `first` with probability proportional to
    how many items of other identities there are, then `second` uniformly among those items; repeats are dropped in
    draw order, which is sampling without replacement. The caller ensures count is at most half of all impostor
    pairs, so repeats stay rare.
    """
    n = len(codes)
    rng = np.random.default_rng(seed)
    partners = (n - size[codes]).astype(np.float64)
    weights = partners / partners.sum()
    kept = np.empty(0, dtype=np.int64)
    while len(kept) < count:
        draws = max(1024, int(1.2 * (count - len(kept))))
        first = rng.choice(n, size=draws, p=weights)
        own = codes[first]
        # Position among the n - size[own] items outside identity `own`, then skip over that identity's block.
        position = (rng.random(draws) * (n - size[own])).astype(np.int64)
        position = np.minimum(position, n - size[own] - 1)
        position = np.where(position >= start[own], position + size[own], position)
        second = members[position]
        low, high = np.minimum(first, second), np.maximum(first, second)
        combined = np.concatenate([kept, low.astype(np.int64) * n + high])
        _, first_seen = np.unique(combined, return_index=True)
        kept = combined[np.sort(first_seen)]
    return kept[:count]


@dataclass(frozen=True)
class Calibration:
    """How well distances separate genuine from impostor pairs, and the thresholds that do it.

    The ROC arrays hold one point per distinct distance plus the "accept nothing" start, FAR ascending; they are
    left out of equality and of `to_dict`.
    """

    auc: float  # P(a random genuine pair is closer than a random impostor pair), ties counting 1/2
    eer: float  # equal error rate: (FAR + FRR) / 2 at the threshold where they are closest
    eer_threshold: float
    tar_at_far: dict[float, float]  # best TAR whose FAR does not exceed each target
    threshold_at_far: dict[float, float]  # the τ that gives it
    genuine: int
    impostor: int
    roc_far: np.ndarray = field(compare=False, repr=False)
    roc_tar: np.ndarray = field(compare=False, repr=False)

    def to_dict(self) -> dict:
        return {
            "auc": float(self.auc),
            "eer": float(self.eer),
            "eer_threshold": float(self.eer_threshold),
            "tar_at_far": {_far_key(far): float(tar) for far, tar in self.tar_at_far.items()},
            "threshold_at_far": {_far_key(far): float(threshold) for far, threshold in self.threshold_at_far.items()},
            "genuine": int(self.genuine),
            "impostor": int(self.impostor),
        }


def _far_key(far: float) -> str:
    return repr(float(far))  # "0.01", "0.001", "1e-05": short, and reads back as the same float


def calibrate(
    distances: np.ndarray, same: np.ndarray, *, far_targets: Sequence[float] = DEFAULT_FAR_TARGETS
) -> Calibration:
    """ROC, AUC, EER and TAR at each FAR target from pair distances and whether each pair is genuine.

    Candidate operating points accept exactly the pairs with d <= v for each distinct distance v (plus accepting
    nothing, τ = the smallest distance); the threshold for one is the midpoint between v and the next larger
    distinct distance, or v plus a small margin for the largest. The EER point is the candidate where |FAR - FRR| is
    smallest (the lower threshold on a tie), with EER = (FAR + FRR) / 2 there, so its threshold really delivers it.
    TAR at a FAR target is the largest TAR among candidates whose FAR does not exceed the target, at the lowest
    such threshold. AUC is the Mann-Whitney statistic, counted exactly from the sorted distances.
    """
    distances, same = _check_pairs(distances, same)
    targets = sorted({_check_far_target(target) for target in far_targets})

    order = np.argsort(distances, kind="stable")
    sorted_distances = distances[order]
    genuine_sorted = same[order]
    # Last index of each run of equal distances: the candidate "accept every pair with d <= value".
    ends = np.flatnonzero(np.diff(sorted_distances) != 0)
    ends = np.append(ends, len(sorted_distances) - 1)
    values = sorted_distances[ends]
    genuine_cum = np.concatenate([[0], np.cumsum(genuine_sorted, dtype=np.int64)[ends]])
    impostor_cum = np.concatenate([[0], ends + 1 - genuine_cum[1:]])
    n_genuine, n_impostor = int(genuine_cum[-1]), int(impostor_cum[-1])

    top = values[-1] + max(abs(values[-1]), 1.0) * 2.0**-20  # above the largest, also in float32
    thresholds = np.concatenate([[values[0]], (values[:-1] + values[1:]) / 2, [top]])
    far = impostor_cum / n_impostor
    tar = genuine_cum / n_genuine

    # Mann-Whitney: each impostor counts the genuine pairs strictly closer, plus half of those tied with it.
    genuine_here = np.diff(genuine_cum)
    impostor_here = np.diff(impostor_cum)
    twice_u = int((impostor_here * (2 * genuine_cum[:-1] + genuine_here)).sum())
    auc = twice_u / (2 * n_genuine * n_impostor)

    # |FAR - FRR| in whole pair counts (scaled by both totals), so equally close candidates compare equal.
    gap = np.abs(impostor_cum * n_genuine - (n_genuine - genuine_cum) * n_impostor)
    best = int(np.argmin(gap))  # first minimum: the lower threshold on a tie
    eer = (far[best] + 1.0 - tar[best]) / 2

    tar_at_far, threshold_at_far = {}, {}
    for target in targets:
        # FAR rises with the candidate index, so the last one within budget has the largest TAR; step back to the
        # first candidate with that TAR, which accepts no more impostors than needed.
        last = int(np.searchsorted(far, target, side="right")) - 1
        first = int(np.searchsorted(genuine_cum, genuine_cum[last], side="left"))
        tar_at_far[target] = float(tar[first])
        threshold_at_far[target] = float(thresholds[first])

    far.setflags(write=False)
    tar.setflags(write=False)
    return Calibration(
        auc=float(auc),
        eer=float(eer),
        eer_threshold=float(thresholds[best]),
        tar_at_far=tar_at_far,
        threshold_at_far=threshold_at_far,
        genuine=n_genuine,
        impostor=n_impostor,
        roc_far=far,
        roc_tar=tar,
    )


def choose_threshold(calibration: Calibration, *, target_far: float | None = None) -> float:
    """τ at the EER, or the τ found for `target_far`, which must have been among calibrate's far_targets."""
    if target_far is None:
        return calibration.eer_threshold
    for far, threshold in calibration.threshold_at_far.items():
        if math.isclose(far, float(target_far), rel_tol=1e-9, abs_tol=0.0):
            return threshold
    available = ", ".join(_far_key(far) for far in calibration.threshold_at_far) or "none"
    raise LookalikeError(
        f"no threshold was calibrated for FAR {target_far!r}; available: {available} (calibrate with it among "
        "far_targets)"
    )


def _check_pairs(distances: np.ndarray, same: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    distances = np.asarray(distances)
    same = np.asarray(same)
    if distances.ndim != 1 or same.ndim != 1:
        raise LookalikeError(
            f"distances and same must be 1-D, got shapes {distances.shape} and {same.shape}"
        )
    if len(distances) != len(same):
        raise LookalikeError(f"{len(distances)} distances but {len(same)} same/different labels")
    if not np.issubdtype(distances.dtype, np.number) or np.issubdtype(distances.dtype, np.complexfloating):
        raise LookalikeError(f"distances must be real numbers, got dtype {distances.dtype}")
    distances = distances.astype(np.float64)
    if not np.isfinite(distances).all():
        raise LookalikeError(f"{int((~np.isfinite(distances)).sum())} distances are NaN or infinite")
    if same.dtype != np.bool_:
        if not np.issubdtype(same.dtype, np.number) or not np.isin(same, (0, 1)).all():
            raise LookalikeError("same must hold booleans or 0/1 (1 = genuine pair)")
        same = same.astype(bool)
    genuine = int(same.sum())
    if genuine == 0 or genuine == len(same):
        raise LookalikeError(
            f"calibration needs genuine and impostor pairs; got {genuine} genuine and {len(same) - genuine} impostor"
        )
    return distances, same


def _check_far_target(target: float) -> float:
    try:
        value = float(target)
    except (TypeError, ValueError):
        raise LookalikeError(f"FAR target must be a number, not {target!r}") from None
    if not 0.0 <= value <= 1.0:
        raise LookalikeError(f"FAR target must lie in [0, 1], not {target!r}")
    return value
