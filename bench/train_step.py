"""Cost of a whole triplet training step against the bare forward + backward of the same model on the same batch.

The full step is `Trainer.step`: uint8 batch -> both views (plain + the seed's positive) -> normalise ->
one forward of 2B images -> semi-hard mining -> loss -> backward -> optimiser step. The bare step is only
forward + backward of the same 2B images, already normalised, under the same precision and memory format.
The two are measured alternately, round by round, so background load hits both alike; medians are reported.

    .venv/bin/python bench/train_step.py --image-size 64 --batch-size 64
"""

from __future__ import annotations

import argparse
import platform
import statistics
import subprocess
import tempfile
import time

import torch

from lookalike.models import EncoderConfig, create_encoder
from lookalike.objectives.choice import ObjectiveChoice
from lookalike.training import TrainSettings, Trainer
from lookalike.views import PlainView, SeedView


def _timed(fn, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=64, help="images per step (each gives two views)")
    parser.add_argument("--mining", default="semihard")
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--steps", type=int, default=3, help="steps of each kind per round")
    args = parser.parse_args()

    torch.manual_seed(0)
    encoder = create_encoder(EncoderConfig(backbone="resnet18", image_size=args.image_size))
    settings = TrainSettings(batch_size=args.batch_size, precision=args.precision)
    with tempfile.TemporaryDirectory() as scratch:
        trainer = Trainer(encoder, ObjectiveChoice("triplet", mining=args.mining).build(encoder), PlainView(),
                          SeedView(), settings, scratch)
    cache_size = 2 * args.image_size  # what train_folder caches at
    pixels = torch.randint(0, 256, (args.batch_size, 3, cache_size, cache_size), dtype=torch.uint8)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        first, second = trainer.views(pixels, generator)
        inputs = torch.cat([trainer.prepare(first), trainer.prepare(second)])

    def bare() -> None:
        trainer.optimizer.zero_grad(set_to_none=True)
        loss = trainer.run(lambda: trainer.encoder(inputs)).sum()
        loss.backward()

    def full() -> None:
        trainer.step(pixels, generator, lr=1e-4)

    def views_only() -> None:
        with torch.no_grad():
            a, b = trainer.views(pixels, generator)
            trainer.prepare(a), trainer.prepare(b)

    def optimiser_only() -> None:
        trainer.optimizer.step()

    trainer.encoder.train()
    for fn in (bare, full, full, bare):  # warm-up: allocator, kernels, optimiser state
        fn()
    bare_times, full_times, view_times, optim_times = [], [], [], []
    for _ in range(args.rounds):
        bare_times += _timed(bare, args.steps)
        optim_times += _timed(optimiser_only, args.steps)
        full_times += _timed(full, args.steps)
        view_times += _timed(views_only, args.steps)
    bare_ms, full_ms = 1000 * statistics.median(bare_times), 1000 * statistics.median(full_times)
    views_ms, optim_ms = 1000 * statistics.median(view_times), 1000 * statistics.median(optim_times)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    print(f"machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, "
          f"torch {torch.__version__}, commit {commit}, precision {trainer.dtype or 'fp32'}")
    print(f"ResNet-18, {args.image_size} px, {args.batch_size} images -> {2 * args.batch_size} views per step, "
          f"{args.mining} mining; median of {args.rounds * args.steps} steps each")
    print("| step | ms | views/s |")
    print("|---|---|---|")
    print(f"| bare forward + backward | {bare_ms:.1f} | {2 * args.batch_size / bare_ms * 1000:.0f} |")
    print(f"| whole Trainer.step | {full_ms:.1f} | {2 * args.batch_size / full_ms * 1000:.0f} |")
    print(f"| of which views + normalise (measured alone) | {views_ms:.1f} | |")
    print(f"| of which optimiser step (measured alone) | {optim_ms:.1f} | |")
    print(f"ratio whole / bare: {full_ms / bare_ms:.2f}x")


if __name__ == "__main__":
    main()
