"""What a training run leaves in its folder after every epoch, in the order that keeps each file usable on its own:
the model (usable at once by `index --model`), its log and curves, and last the checkpoint to resume from.

Kept apart from the Trainer's loop, which only decides when to save: the loop knows nothing of file formats or plots
(matplotlib itself is loaded only when the first curves are drawn, see lookalike.report.figure).
"""

from __future__ import annotations

from pathlib import Path

from lookalike.models import Encoder, save_model
from lookalike.report.curves import CURVES_FILE, plot_curves
from lookalike.training.checkpoint import Checkpoint, checkpoint_dir, save_checkpoint
from lookalike.training.history import LOG_FILE, EpochRow, write_history


class RunFiles:
    """The files of one run in `out_dir`."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir

    def save(self, encoder: Encoder, history: list[EpochRow], checkpoint: Checkpoint, *, title: str) -> str:
        """Write the epoch's model, log, curves and checkpoint; returns the model id."""
        model = save_model(encoder, self.out_dir)
        write_history(history, self.out_dir / LOG_FILE)
        plot_curves([row.to_dict() for row in history], self.out_dir / CURVES_FILE, title=title)
        save_checkpoint(checkpoint_dir(self.out_dir), checkpoint)
        return model
