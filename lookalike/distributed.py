"""Training on several processes (torchrun, torch.distributed): who this process is, and the few collective
operations the trainer and NT-Xent need.

Gradients are averaged explicitly after the backward pass rather than by DistributedDataParallel's hooks, because
objectives may use parts of the model outside its forward call (the pair head), which those hooks would miss.
Every function here is a no-op in a single process, so callers need no branches of their own.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn


@dataclass(frozen=True)
class Ranks:
    rank: int = 0
    world: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def current() -> Ranks:
    """This process's place among the training processes (rank 0 of 1 when not distributed)."""
    if dist.is_available() and dist.is_initialized():
        return Ranks(dist.get_rank(), dist.get_world_size())
    return Ranks()


def init_from_environment(device: torch.device) -> Ranks:
    """Join the process group torchrun describes in the environment (WORLD_SIZE > 1); otherwise stay alone.

    gloo serves CPU training, NCCL CUDA training; on CUDA each process takes the GPU of its LOCAL_RANK.
    """
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and dist.is_available() and not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return current()


def leave() -> None:
    """Leave the process group, if this process is in one."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


class _GatherWithGradient(torch.autograd.Function):
    """all_gather whose backward hands each process the summed gradient of its own rows, so negatives that came
    from other processes still train the encoder that produced them."""

    @staticmethod
    def forward(ctx, local: torch.Tensor) -> torch.Tensor:
        parts = [torch.empty_like(local) for _ in range(dist.get_world_size())]
        dist.all_gather(parts, local.contiguous())
        ctx.rows = len(local)
        return torch.cat(parts)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.contiguous()
        dist.all_reduce(grad)
        start = dist.get_rank() * ctx.rows
        return grad[start:start + ctx.rows]


def gather(local: torch.Tensor) -> torch.Tensor:
    """Every process's `local` rows, stacked in rank order, with gradients flowing back to each owner. All
    processes must pass tensors of the same shape."""
    if current().world == 1:
        return local
    return _GatherWithGradient.apply(local)


def average_gradients(parameters) -> None:
    """Replace each gradient by its mean over the processes, in one flat all_reduce."""
    ranks = current()
    if ranks.world == 1:
        return
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= ranks.world
    offset = 0
    for g in grads:
        g.copy_(flat[offset:offset + g.numel()].view_as(g))
        offset += g.numel()


def average_batch_norm_statistics(module: nn.Module) -> None:
    """Average batch-norm running statistics, which each process updates from its own share of the batch, so
    every process saves and validates the same model."""
    ranks = current()
    if ranks.world == 1:
        return
    for layer in module.modules():
        if isinstance(layer, nn.modules.batchnorm._BatchNorm) and layer.track_running_stats:
            for buffer in (layer.running_mean, layer.running_var):
                if buffer is not None:
                    dist.all_reduce(buffer)
                    buffer /= ranks.world


def mean(value: float, device: torch.device) -> float:
    """The mean of a number over the processes (a loss to log); `device` is where the backend can reduce."""
    ranks = current()
    if ranks.world == 1:
        return value
    total = torch.tensor([value], dtype=torch.float64, device=device)
    dist.all_reduce(total)
    return float(total) / ranks.world
