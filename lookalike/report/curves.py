"""The loss curve of a training run as a PNG: training loss, validation loss, and the validation triplet accuracy
on its own axis, since a loss alone says little about whether the embedding orders images correctly. Below them, when
the run measured them, the label-free diagnostics (lookalike.diagnostics), one small panel each."""

from __future__ import annotations

from pathlib import Path

from lookalike.diagnostics import COLUMNS
from lookalike.report.figure import pyplot, save_png

CURVES_FILE = "curves.png"
DIAGNOSTICS = dict(zip(COLUMNS, ("alignment (lower: views agree)", "uniformity (lower: spread out)",
                                 "effective rank (higher: more dims used)")))


def plot_curves(rows: list[dict], path: str | Path, title: str = "training") -> Path:
    plt = pyplot()

    epochs = [row["epoch"] for row in rows]
    measured = {key: [(row["epoch"], row[key]) for row in rows if row.get(key) is not None] for key in DIAGNOSTICS}
    measured = {key: points for key, points in measured.items() if points}
    if measured:
        figure = plt.figure(figsize=(7, 6.2), dpi=110, layout="constrained")
        grid = figure.add_gridspec(2, len(measured), height_ratios=(2, 1))
        loss_axis = figure.add_subplot(grid[0, :])
        for column, (key, points) in enumerate(measured.items()):
            axis = figure.add_subplot(grid[1, column])
            axis.plot(*zip(*points), "o-", color="tab:purple", markersize=3)
            axis.set_title(DIAGNOSTICS[key], fontsize="small")
            axis.set_xlabel("epoch", fontsize="small")
            axis.tick_params(labelsize="x-small")
            axis.grid(alpha=0.3)
    else:
        figure, loss_axis = plt.subplots(figsize=(7, 4), dpi=110)
    loss_axis.plot(epochs, [row["train_loss"] for row in rows], "o-", label="train loss")
    valid = [(row["epoch"], row["valid_loss"]) for row in rows if row.get("valid_loss") is not None]
    if valid:
        loss_axis.plot(*zip(*valid), "s--", label="validation loss")
    loss_axis.set_xlabel("epoch")
    loss_axis.set_ylabel("loss")
    loss_axis.grid(alpha=0.3)
    handles, labels = loss_axis.get_legend_handles_labels()
    accuracy = [(row["epoch"], row["valid_triplet_accuracy"]) for row in rows
                if row.get("valid_triplet_accuracy") is not None]
    if accuracy:
        accuracy_axis = loss_axis.twinx()
        accuracy_axis.plot(*zip(*accuracy), "^:", color="tab:green", label="validation d(a,p) < d(a,n)")
        accuracy_axis.set_ylabel("validation triplet accuracy")
        accuracy_axis.set_ylim(0, 1.02)
        more_handles, more_labels = accuracy_axis.get_legend_handles_labels()
        handles, labels = handles + more_handles, labels + more_labels
    loss_axis.legend(handles, labels, loc="best", fontsize="small")
    loss_axis.set_title(title)
    return save_png(figure, path)
