import socket

import torch.multiprocessing as mp
import torchrun_workers
from imagegen import write_image_folder

from lookalike.models import load_model, model_id
from lookalike.training.history import LOG_FILE


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_two_processes_train_one_model_that_the_first_one_writes(tmp_path):
    """Under torchrun's environment both processes must end with identical weights (gradients and batch-norm
    statistics averaged), and the first alone reports and writes the model."""
    write_image_folder(tmp_path / "images", classes=3, per_class=4)
    out, ids = tmp_path / "model", tmp_path / "id"
    mp.spawn(torchrun_workers.run_rank, args=(2, _free_port(), str(tmp_path / "images"), str(out), str(ids)),
             nprocs=2, join=True)
    (first_id, first_reports), (second_id, second_reports) = ((ids.parent / f"id.{rank}").read_text().split()
                                                              for rank in range(2))
    assert first_id == second_id == model_id(load_model(out))
    assert (first_reports, second_reports) == ("True", "False")
    assert len((out / LOG_FILE).read_text().splitlines()) == 1 + 2  # header and two epochs, written once each
