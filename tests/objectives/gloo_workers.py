"""Worker for the two-process NT-Xent test: each process runs one rank under gloo and writes what it saw."""

from __future__ import annotations

import torch
import torch.distributed as dist
from safetensors.torch import save_file

from lookalike import distributed
from lookalike.models import EncoderConfig, create_encoder
from lookalike.objectives import NTXentObjective

CONFIG = EncoderConfig(backbone="resnet18", image_size=32, head=(32, 16), embed_from="backbone")
GLOBAL_BATCH = 6  # three images per process: an odd local batch


def global_batch() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(3)
    return tuple(torch.rand(GLOBAL_BATCH, 3, 32, 32, generator=generator) for _ in range(2))


def loss_and_gradients(first: torch.Tensor, second: torch.Tensor) -> tuple[float, dict[str, torch.Tensor]]:
    """NT-Xent loss and parameter gradients of a freshly made encoder (batch norm in eval mode, so the statistics
    cannot differ between a process's share and the whole batch)."""
    encoder = create_encoder(CONFIG, seed=0).eval()
    objective = NTXentObjective(0.5).train()
    output = objective(encoder, encoder.normalise(first), encoder.normalise(second))
    output.loss.backward()
    distributed.average_gradients(encoder.parameters())
    gradients = {name: p.grad.clone() for name, p in encoder.named_parameters() if p.grad is not None}
    return distributed.mean(float(output.loss.detach()), torch.device("cpu")), gradients


def run_rank(rank: int, world: int, init_file: str, out: str) -> None:
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        first, second = global_batch()
        share = slice(rank * GLOBAL_BATCH // world, (rank + 1) * GLOBAL_BATCH // world)
        loss, gradients = loss_and_gradients(first[share], second[share])
        save_file({"loss": torch.tensor(loss), **gradients}, f"{out}.{rank}")
    finally:
        dist.destroy_process_group()
