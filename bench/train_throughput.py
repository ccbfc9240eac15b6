"""Training throughput: lookalike's SimCLR and triplet steps against a reference SimCLR loop built from `lightly`.

Both sides train the same torchvision ResNet-18 (classifier removed) with the same 512 -> 512 -> 128 projection,
at the same input size and batch, on the same files, from images on disk, in the same process, as each package's
users would run it:
- lightly: torchvision's ImageFolder, lightly's SimCLRTransform (torchvision transforms per image, with blur off to
  match lookalike's recipe), a standard DataLoader with one worker per core, lightly's NTXentLoss, fp32, AdamW;
- lookalike: `train_folder`, which decodes each file once into a uint8 cache and makes the views in batches, in
  bf16 autocast with channels_last where the CPU has native bf16.
Images per second is counted in source images (each gives two views) over each epoch's training loop; the first
epoch is warm-up, and the median of the others is reported. lookalike's one-off decoding is reported apart.

    .venv-bench/bin/python bench/train_throughput.py ../shared/data/cifar10_train_subset --record
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

from lookalike.data import find_images
from lookalike.models.backbones import build_backbone
from lookalike.objectives.choice import ObjectiveChoice
from lookalike.train import Callbacks, TrainSettings, train_folder
from record import add_record_options, append_section, command_line


def subset_folder(source: Path, count: int, into: Path) -> Path:
    """The first `count` images of `source` (in path order) as a folder of symlinks, sub-folders kept."""
    for path in find_images(source)[:count]:
        target = into / path.relative_to(source.resolve())
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(path)
    return into


LIGHTLY_LR = 1e-3


class LightlyLoop:
    """The reference SimCLR loop, as lightly's users write it: ImageFolder, lightly's SimCLRTransform (blur off, to
    match lookalike's recipe), a standard DataLoader, lightly's projection head and NTXentLoss, fp32, AdamW."""

    def __init__(self, folder: Path, args) -> None:
        from lightly.loss import NTXentLoss
        from lightly.models.modules import SimCLRProjectionHead
        from lightly.transforms import SimCLRTransform
        from torchvision.datasets import ImageFolder

        torch.manual_seed(0)
        self.device = args.device
        self.backbone = build_backbone("resnet18")
        self.model = nn.Sequential(self.backbone, SimCLRProjectionHead(512, 512, 128)).to(args.device)
        transform = SimCLRTransform(input_size=args.image_size, gaussian_blur=0.0)
        self.loader = torch.utils.data.DataLoader(
            ImageFolder(str(folder), transform=transform), batch_size=args.batch_size, shuffle=True,
            drop_last=True, num_workers=args.workers, pin_memory=args.device == "cuda")
        self.criterion = NTXentLoss(temperature=0.2)
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=LIGHTLY_LR, weight_decay=1e-6)

    def step(self, first: torch.Tensor, second: torch.Tensor) -> None:
        loss = self.criterion(self.model(first.to(self.device)), self.model(second.to(self.device)))
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()


def lightly_epochs(folder: Path, args) -> list[float]:
    """Images per second of each epoch of the reference loop."""
    loop = LightlyLoop(folder, args)
    rates = []
    for epoch in range(args.epochs):
        started, images = time.perf_counter(), 0
        for (first, second), _ in loop.loader:
            loop.step(first, second)
            images += len(first)
        rates.append(images / (time.perf_counter() - started))
        print(f"lightly epoch {epoch + 1}: {rates[-1]:.1f} img/s", flush=True)
    return rates


def lookalike_epochs(folder: Path, out: Path, objective: str, args) -> tuple[list[float], float]:
    """Images per second of each epoch, and the seconds spent decoding before the first."""
    choice = ObjectiveChoice(objective)
    settings = TrainSettings.with_defaults(choice.default_training, epochs=args.epochs, batch_size=args.batch_size,
                                           device=args.device, workers=args.workers)
    started = time.perf_counter()
    run = train_folder(folder, out, objective=choice, settings=settings, image_size=args.image_size,
                       head=(512, 128) if objective == "simclr" else None,
                       callbacks=Callbacks(on_epoch=lambda row: print(
                           f"lookalike {objective} epoch {row['epoch']}: {row['images_per_second']:.1f} img/s",
                           flush=True)))
    # The report's seconds cover the epochs (and their validation and saving); the rest was finding and decoding.
    return [row["images_per_second"] for row in run.report.history], time.perf_counter() - started - run.report.seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", type=Path, help="image folder (labels are not read)")
    parser.add_argument("--images", type=int, default=3200, help="files to train on (the first ones, in path order)")
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--epochs", type=int, default=4, help="the first is warm-up")
    parser.add_argument("--workers", type=int, default=torch.get_num_threads(), help="decoding processes, both sides")
    parser.add_argument("--device", default="cpu")
    add_record_options(parser)
    args = parser.parse_args()
    if args.epochs < 2:
        parser.error("--epochs must be at least 2: the first is warm-up")

    with tempfile.TemporaryDirectory() as scratch:
        folder = subset_folder(args.data, args.images, Path(scratch) / "images")
        results = {"lightly SimCLR loop (reference)": (lightly_epochs(folder, args), None)}
        for objective in ("simclr", "triplet"):
            results[f"lookalike {objective} step"] = lookalike_epochs(folder, Path(scratch) / objective, objective,
                                                                     args)
    reference = statistics.median(results["lightly SimCLR loop (reference)"][0][1:])
    lines = ["| loop | img/s (median of epochs 2+) | × lightly | one-off decoding |", "|---|---|---|---|"]
    for name, (rates, decoding) in results.items():
        rate = statistics.median(rates[1:])
        lines.append(f"| {name} | {rate:.1f} | {rate / reference:.2f}× | "
                     f"{'—' if decoding is None else f'{decoding:.1f} s'} |")
    print("\n".join(lines))
    if args.record:
        append_section("Training throughput against lightly (issue #6a)", lines, command_line(),
                       args.benchmarks_file)


if __name__ == "__main__":
    main()
