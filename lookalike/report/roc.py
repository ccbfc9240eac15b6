"""The verification ROC as a PNG: TAR against FAR on a log axis, since the operating points that matter (FAR of 1%,
0.1%, less) are squeezed against the left edge of a linear one. The EER and each TAR@FAR point are marked."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lookalike.match.calibration import Calibration
from lookalike.report.figure import pyplot, save_png

ROC_FILE = "roc.png"


def plot_roc(calibration: Calibration, path: str | Path, title: str = "verification ROC") -> Path:
    plt = pyplot()

    floor = 1.0 / calibration.impostor  # FAR 0 cannot sit on a log axis: it is drawn at one impostor pair
    far, tar = _distinct_far(np.asarray(calibration.roc_far), np.asarray(calibration.roc_tar))
    figure, axis = plt.subplots(figsize=(6, 4.5), dpi=110)
    # A step: between two FAR values the best reachable TAR is the one at the lower FAR, as TAR@FAR reads it.
    axis.plot(np.maximum(far, floor), tar, drawstyle="steps-post",
              label=f"AUC {calibration.auc:.4f} ({calibration.genuine} genuine, {calibration.impostor} impostor)")
    axis.plot([max(calibration.eer, floor)], [1.0 - calibration.eer], "o", color="tab:red",
              label=f"EER {calibration.eer:.2%} (τ = {calibration.eer_threshold:.4g})")
    for target, value in sorted(calibration.tar_at_far.items()):
        if target <= 0:
            continue  # off the log axis
        axis.plot([max(target, floor)], [value], "s", markerfacecolor="none",
                  label=f"TAR {value:.2%} at FAR ≤ {target:g} (τ = {calibration.threshold_at_far[target]:.4g})")
    axis.set_xscale("log")
    axis.set_xlim(floor, 1.0)
    axis.set_ylim(0, 1.02)
    axis.set_xlabel("false accept rate (impostor pairs accepted)")
    axis.set_ylabel("true accept rate (genuine pairs accepted)")
    axis.grid(alpha=0.3, which="both")
    axis.legend(loc="lower right", fontsize="small")
    axis.set_title(title)
    return save_png(figure, path)


def _distinct_far(far: np.ndarray, tar: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The highest TAR at each distinct FAR: all a post-step draws, and at most one point per impostor pair."""
    last = np.append(np.flatnonzero(np.diff(far) != 0), len(far) - 1)
    return np.concatenate([far[:1], far[last]]), np.concatenate([tar[:1], tar[last]])
