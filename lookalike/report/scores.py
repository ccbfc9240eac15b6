"""The demo's headline as a small bar chart: precision@1 and mAP@R for each encoder side by side, with chance marked,
so a reader sees at a glance which encoder won and by how much."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from lookalike.report.figure import pyplot, save_png

SCORES_FILE = "scores.png"


def draw_scores(rows: Sequence[tuple[str, float, float]], chance: float, path: str | Path) -> Path:
    """`rows` are (encoder, precision@1, mAP@R), the baseline first; `chance` is precision@1 by guessing."""
    plt = pyplot()
    figure, axis = plt.subplots(figsize=(6, 1.2 + 0.55 * len(rows)), dpi=110)
    metrics = ("precision@1", "mAP@R")
    positions = np.arange(len(metrics))
    height = 0.8 / len(rows)
    colours = ["#9e9e9e"] * (len(rows) - 1) + ["#2e7d32"]  # the last row is the encoder the demo trained
    for number, ((name, precision, map_at_r), colour) in enumerate(zip(rows, colours)):
        offsets = positions - 0.4 + height * (number + 0.5)
        bars = axis.barh(offsets, (precision, map_at_r), height * 0.9, color=colour, label=name)
        axis.bar_label(bars, fmt="%.3f", padding=3, fontsize="small")
    axis.axvline(chance, ymin=0.5, color="#c62828", linestyle=":", linewidth=1)  # across the precision@1 bars
    axis.set_yticks(positions, (f"precision@1\n(chance {chance:.2f}, dotted)", "mAP@R"))
    axis.invert_yaxis()
    axis.set_xlim(0, 1.12)
    axis.set_xlabel("score (1 is best)")
    axis.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=len(rows), frameon=False, fontsize="small")
    axis.spines[["top", "right"]].set_visible(False)
    return save_png(figure, path)
