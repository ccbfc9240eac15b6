"""The ceiling on lookalike's speed-up over a peer loop, from arithmetic alone.

A peer loop (lightly's SimCLR loop in (a), the plain indexing loop in (b)) runs ResNet-18 in fp32 with the default
NCHW memory format. lookalike runs the same network in channels_last, in bf16 autocast where the CPU has native
bf16, and for inference with batch norm folded into the convolutions. This script times only that network, on
random tensors already in memory, both ways, alternating round by round:
- training: forward of both views (2 × batch, each source image gives two), a stand-in loss, backward, AdamW;
- inference: the forward of one batch.
If both input pipelines cost nothing, lookalike's speed-up over the peer would be the ratio printed here, so a
measured ratio near it says the remaining gap is arithmetic, not data handling.

    .venv-bench/bin/python bench/ceiling.py --record
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
from record import add_record_options, publish
from torch import nn

from lookalike.models import EncoderConfig, create_encoder
from lookalike.models.backbones import build_backbone
from lookalike.models.inference import for_inference
from lookalike.runtime import autocast, autocast_dtype

CPU = torch.device("cpu")


def training_step(channels_last: bool, dtype: torch.dtype | None, batch: int, size: int) -> Callable[[], None]:
    """One SimCLR-shaped step of ResNet-18 with the 512 -> 512 -> 128 projection of bench/train_throughput.py."""
    torch.manual_seed(0)
    model = nn.Sequential(build_backbone("resnet18"), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 128))
    views = torch.randn(2 * batch, 3, size, size)
    if channels_last:
        model, views = model.to(memory_format=torch.channels_last), views.contiguous(memory_format=torch.channels_last)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)

    def step() -> None:
        with autocast(CPU, dtype):
            loss = model(views).float().square().mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step


def inference_step(lookalike_form: bool, dtype: torch.dtype | None, batch: int, size: int) -> Callable[[], None]:
    """One forward of lookalike's default encoder (ResNet-18 and its head) on a batch."""
    encoder = create_encoder(EncoderConfig(image_size=size), seed=0).eval()
    images = torch.randn(batch, 3, size, size)
    if lookalike_form:
        encoder = for_inference(encoder).to(memory_format=torch.channels_last)
        images = images.contiguous(memory_format=torch.channels_last)

    @torch.inference_mode()
    def step() -> None:
        with autocast(CPU, dtype):
            encoder(images)

    return step


def rates(steps: dict[str, Callable[[], None]], images: int, rounds: int) -> dict[str, float]:
    """Images per second of each step, median over rounds that alternate between them after one warm-up each."""
    seconds: dict[str, list[float]] = {name: [] for name in steps}
    for step in steps.values():
        step()
    for _ in range(rounds):
        for name, step in steps.items():
            started = time.perf_counter()
            step()
            seconds[name].append(time.perf_counter() - started)
    return {name: images / statistics.median(times) for name, times in seconds.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train-size", type=int, default=64, help="input size of the training step, as in (a)")
    parser.add_argument("--train-batch", type=int, default=256, help="source images per training step, as in (a)")
    parser.add_argument("--index-size", type=int, default=128, help="input size of the inference step, as in (b)")
    parser.add_argument("--index-batch", type=int, default=64, help="images per inference batch, as in (b)")
    parser.add_argument("--rounds", type=int, default=5)
    add_record_options(parser)
    args = parser.parse_args()

    dtype = autocast_dtype(CPU, "auto")
    ours = f"channels_last, {'bf16 autocast' if dtype else 'fp32 (no native bf16)'}"
    training = rates({
        "peer": training_step(False, None, args.train_batch, args.train_size),
        "lookalike": training_step(True, dtype, args.train_batch, args.train_size),
    }, args.train_batch, args.rounds)
    inference = rates({
        "peer": inference_step(False, None, args.index_batch, args.index_size),
        "lookalike": inference_step(True, dtype, args.index_batch, args.index_size),
    }, args.index_batch, args.rounds)
    lines = [f"Random tensors in memory, median of {args.rounds} alternating rounds after a warm-up.", "",
             "| step | peer form | img/s | lookalike form | img/s | ceiling |", "|---|---|---|---|---|---|",
             f"| training, {args.train_size} px, batch {args.train_batch} (two views each) | fp32, NCHW | "
             f"{training['peer']:.1f} | {ours} | {training['lookalike']:.1f} | "
             f"{training['lookalike'] / training['peer']:.2f}× |",
             f"| inference, {args.index_size} px, batch {args.index_batch} | fp32, NCHW | {inference['peer']:.1f} | "
             f"{ours}, batch norm folded | {inference['lookalike']:.1f} | "
             f"{inference['lookalike'] / inference['peer']:.2f}× |"]
    publish("Arithmetic ceiling (issue #6a, #6b)", lines, args)


if __name__ == "__main__":
    main()
