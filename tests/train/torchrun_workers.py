"""Worker for the two-process training test: one rank of `train_folder`, set up the way torchrun sets it up."""

from __future__ import annotations

import os
from pathlib import Path

from lookalike.objectives.choice import ObjectiveChoice
from lookalike.training import Callbacks, TrainSettings, train_folder


def run_rank(rank: int, world: int, port: int, folder: str, out: str, ids: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), WORLD_SIZE=str(world), RANK=str(rank),
                      LOCAL_RANK=str(rank))
    run = train_folder(
        folder, out, objective=ObjectiveChoice("simclr"), image_size=32, head=(32, 16),
        # a time budget too, so that the processes also agree before every step on the steps left
        settings=TrainSettings(epochs=2, minutes=60, batch_size=4, lr=1e-3, workers=0, precision="fp32"),
        callbacks=Callbacks(say=lambda line: None),
    )
    Path(f"{ids}.{rank}").write_text(f"{run.report.model_id} {run.reports}")
