"""The per-epoch record of a run, written as CSV after every epoch so a crash loses at most the epoch in progress.

A row holds the Trainer's own measures as fields, and by name whatever the objective reports (the triplet
objective's share of active triplets, the pair head's accuracy) and whatever validation measures, so a new
objective needs no change here.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

from lookalike.atomic import write_bytes_atomic

LOG_FILE = "train_log.csv"


@dataclass(frozen=True)
class EpochRow:
    epoch: int  # counted from 1
    train_loss: float  # the mean over the epoch's images
    lr: float  # at the epoch's last step
    images: int
    images_per_second: float
    seconds: float
    statistics: dict[str, float] = field(default_factory=dict)
    """The objective's own measures, averaged over the epoch's images."""
    validation: dict[str, float | None] = field(default_factory=dict)
    """What the held-out images measured (valid_loss, valid_triplet_accuracy), when there were any."""

    def measure(self, name: str) -> float | None:
        """A statistic or validation measure by name; None when this run did not record it."""
        return self.statistics.get(name, self.validation.get(name))

    def to_dict(self) -> dict[str, float | int | None]:
        """The row as the log's columns, in the log's order."""
        return {"epoch": self.epoch, "train_loss": self.train_loss, **self.statistics, "lr": self.lr,
                "images": self.images, "images_per_second": self.images_per_second, "seconds": self.seconds,
                **self.validation}

    @classmethod
    def from_checkpoint(cls, data: dict) -> EpochRow:
        """A row as a checkpoint keeps it (`dataclasses.asdict`), or as checkpoints before typed rows kept it: one
        flat dict, whose validation measures are told apart by name."""
        if "statistics" in data:
            return cls(**data)
        fixed = {name: data[name] for name in _FIXED}
        rest = {name: value for name, value in data.items() if name not in fixed}
        return cls(**fixed, statistics={name: value for name, value in rest.items() if name not in _VALIDATION},
                   validation={name: value for name, value in rest.items() if name in _VALIDATION})


_FIXED = ("epoch", "train_loss", "lr", "images", "images_per_second", "seconds")
_VALIDATION = {"valid_loss", "valid_triplet_accuracy"}  # what FixedValidation measured before rows were typed


def write_history(history: list[EpochRow], path: str | Path) -> Path:
    rows = [row.to_dict() for row in history]
    columns: list[str] = []
    for row in rows:
        columns += [key for key in row if key not in columns]
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: _cell(value) for key, value in row.items()})
    write_bytes_atomic(path, text.getvalue().encode("utf-8"))
    return Path(path)


def read_log(path: str | Path) -> list[dict[str, float]]:
    """The rows `write_history` wrote, as numbers (a column a row left empty is absent from it)."""
    with open(path, newline="", encoding="utf-8") as file:
        return [{key: float(value) for key, value in row.items() if value} for row in csv.DictReader(file)]


def _cell(value: object) -> object:
    return f"{value:.6g}" if isinstance(value, float) else value
