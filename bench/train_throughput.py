"""Training throughput: lookalike's SimCLR and triplet steps against a reference SimCLR loop built from `lightly`.

Both sides train the same torchvision ResNet-18 (classifier removed) with the same 512 -> 512 -> 128 projection,
at the same input size and batch, on the same files, from images on disk, in the same process, as each package's
users would run it:
- lightly: torchvision's ImageFolder, lightly's SimCLRTransform (torchvision transforms per image, with blur off to
  match lookalike's recipe), a standard DataLoader with one worker per core, lightly's NTXentLoss, fp32, AdamW;
- lookalike: `train_folder`, which decodes each file once into a uint8 cache and makes the views in batches, in
  bf16 autocast with channels_last where the CPU has native bf16.
Images per second is counted in source images (each gives two views) over each epoch's training loop; the first
epoch is warm-up, and the median of the others is reported. lookalike's one-off decoding is reported apart. The
data share is the part of each epoch spent getting inputs ready: blocked on the DataLoader for lightly, making the
views for lookalike (with the device synchronised around it, so on a GPU it counts the GPU's own time).

    .venv-bench/bin/python bench/train_throughput.py ../shared/data/cifar10_train_subset --record
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from record import add_record_options, publish
from torch import nn

from lookalike.data import find_images
from lookalike.models.backbones import build_backbone
from lookalike.objectives.choice import ObjectiveChoice
from lookalike.training import Callbacks, FolderRun, TrainSettings, train_folder
from lookalike.training.trainer import Trainer


def subset_folder(source: Path, count: int, into: Path) -> Path:
    """The first `count` images of `source` (in path order) as a folder of symlinks, sub-folders kept."""
    for path in find_images(source)[:count]:
        target = into / path.relative_to(source.resolve())
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(path)
    return into


LIGHTLY_LR = 1e-3
LOOPS = {"lightly": "lightly SimCLR loop (reference)", "simclr": "lookalike simclr step",
         "triplet": "lookalike triplet step"}


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


@dataclass
class Epochs:
    """Per-epoch images per second and share of time spent on data, and any one-off decoding before the first."""

    rates: list[float] = field(default_factory=list)
    data_shares: list[float] = field(default_factory=list)
    decoding_seconds: float | None = None


def synchronise(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def lightly_epochs(folder: Path, args) -> Epochs:
    loop, result = LightlyLoop(folder, args), Epochs()
    for epoch in range(args.epochs):
        started, waited, images = time.perf_counter(), 0.0, 0
        batches = iter(loop.loader)
        while True:
            asked = time.perf_counter()
            try:
                (first, second), _ = next(batches)
            except StopIteration:
                break
            waited += time.perf_counter() - asked
            loop.step(first, second)
            images += len(first)
        seconds = time.perf_counter() - started
        result.rates.append(images / seconds)
        result.data_shares.append(waited / seconds)
        print(f"lightly epoch {epoch + 1}: {result.rates[-1]:.1f} img/s", flush=True)
    return result


class ViewClock:
    """Times lookalike's view making in training steps (validation's, made in eval mode, are left out) by wrapping
    Trainer.views while in use; the library itself carries no timing code."""

    def __init__(self, device: str) -> None:
        self.device, self.seconds, self._original = device, 0.0, Trainer.views

    def __enter__(self) -> ViewClock:
        original, clock = self._original, self

        def timed_views(trainer, pixels, generator):
            if not trainer.encoder.training:
                return original(trainer, pixels, generator)
            synchronise(clock.device)
            started = time.perf_counter()
            views = original(trainer, pixels, generator)
            synchronise(clock.device)
            clock.seconds += time.perf_counter() - started
            return views

        Trainer.views = timed_views
        return self

    def __exit__(self, *exc) -> None:
        Trainer.views = self._original


def train_lookalike(folder: Path, out: Path, objective: str, args, epochs: int, callbacks: Callbacks) -> FolderRun:
    """lookalike's `train_folder` with the objective's defaults, at the loops' shared model, input size and batch."""
    choice = ObjectiveChoice(objective)
    settings = TrainSettings.with_defaults(choice.default_training, epochs=epochs, batch_size=args.batch_size,
                                           device=args.device, workers=args.workers)
    return train_folder(folder, out, objective=choice, settings=settings, image_size=args.image_size,
                        head=(512, 128) if objective == "simclr" else None, callbacks=callbacks)


def lookalike_epochs(folder: Path, out: Path, objective: str, args) -> Epochs:
    result = Epochs()
    with ViewClock(args.device) as clock:
        def on_epoch(row) -> None:
            result.data_shares.append(clock.seconds / row.seconds)
            clock.seconds = 0.0
            print(f"lookalike {objective} epoch {row.epoch}: {row.images_per_second:.1f} img/s", flush=True)

        started = time.perf_counter()
        run = train_lookalike(folder, out, objective, args, args.epochs, Callbacks(on_epoch=on_epoch))
    result.rates = [row.images_per_second for row in run.report.history]
    # The report's seconds cover the epochs (and their validation and saving); the rest was finding and decoding.
    result.decoding_seconds = time.perf_counter() - started - run.report.seconds
    return result


def add_loop_options(parser: argparse.ArgumentParser, images: int) -> None:
    """The options both loops share: the data, how many files, the input size, batch, decoding processes, device."""
    parser.add_argument("data", type=Path, help="image folder (labels are not read)")
    parser.add_argument("--images", type=int, default=images, help="files to train on (the first ones, in path order)")
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--workers", type=int, default=torch.get_num_threads(), help="decoding processes, both sides")
    parser.add_argument("--device", default="cpu")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_loop_options(parser, images=3200)
    parser.add_argument("--epochs", type=int, default=4, help="the first is warm-up")
    parser.add_argument("--loops", nargs="+", choices=LOOPS, default=list(LOOPS),
                        help="which loops to time; one alone is for profiling it (bench/top_costs.py)")
    add_record_options(parser)
    args = parser.parse_args()
    if args.epochs < 2:
        parser.error("--epochs must be at least 2: the first is warm-up")

    with tempfile.TemporaryDirectory() as scratch:
        folder = subset_folder(args.data, args.images, Path(scratch) / "images")
        results = {}
        for loop in args.loops:
            results[LOOPS[loop]] = (lightly_epochs(folder, args) if loop == "lightly" else
                                    lookalike_epochs(folder, Path(scratch) / loop, loop, args))
    reference = statistics.median(results[LOOPS["lightly"]].rates[1:]) if "lightly" in args.loops else None
    lines = [f"Device: {args.device}.", "",
             "| loop | img/s (median of epochs 2+) | × lightly | data share of epoch time | one-off decoding |",
             "|---|---|---|---|---|"]
    for name, epochs in results.items():
        rate = statistics.median(epochs.rates[1:])
        decoding = "—" if epochs.decoding_seconds is None else f"{epochs.decoding_seconds:.1f} s"
        ratio = "—" if reference is None else f"{rate / reference:.2f}×"
        lines.append(f"| {name} | {rate:.1f} | {ratio} | "
                     f"{statistics.median(epochs.data_shares[1:]):.1%} | {decoding} |")
    publish("Training throughput against lightly (issue #6a)", lines, args)


if __name__ == "__main__":
    main()
