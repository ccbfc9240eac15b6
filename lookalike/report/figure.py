"""Matplotlib without a display, and figures written as PNG atomically: what every plot in the report shares."""

from __future__ import annotations

import io
from pathlib import Path

from lookalike.atomic import write_bytes_atomic


def pyplot():
    """matplotlib.pyplot on the Agg backend (set before pyplot is first imported), so plots work without a display."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_png(figure, path: str | Path) -> Path:
    """Lay out (unless the figure brought its own layout engine), write atomically (a reader never sees half a PNG)
    and close the figure."""
    if figure.get_layout_engine() is None:
        figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    pyplot().close(figure)
    write_bytes_atomic(path, buffer.getvalue())
    return Path(path)
