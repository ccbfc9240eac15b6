"""The per-epoch record of a run, written as CSV after every epoch so a crash loses at most the epoch in progress.

Rows are plain dicts: the Trainer's own columns first, then whatever statistics the objective reports (the triplet
objective's share of active triplets, the pair head's accuracy), so a new objective needs no change here.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from lookalike.atomic import write_bytes_atomic

LOG_FILE = "train_log.csv"


def write_history(rows: list[dict], path: str | Path) -> Path:
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


def _cell(value: object) -> object:
    return f"{value:.6g}" if isinstance(value, float) else value
