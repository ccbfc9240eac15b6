"""Quality at equal time: lookalike's SimCLR against the lightly SimCLR loop of bench/train_throughput.py, each given
the same wall-clock budget on the same unlabeled folder, then scored by the same linear probe.

- lightly's loop (the same model, transforms, loader, loss and AdamW as in train_throughput.py) trains until the
  budget is spent, its learning rate following a cosine over the budget's time, so it ends annealed whatever its
  speed;
- lookalike trains for as many epochs as its measured speed fits in the budget (the speed is measured first, on a
  few batches, and that measurement is charged to neither side), with its cosine schedule over those epochs;
- both budgets include everything from the call to the trained weights: finding and decoding files, workers
  starting, every step. The wall time each really used is reported beside the scores;
- both backbones are then frozen and scored by `lookalike.evaluate`: the linear probe (top-1, top-5) and kNN on the
  labelled train and test folders.

    .venv-bench/bin/python bench/equal_time.py ../shared/data/cifar10_train_subset \\
        --train ../shared/data/cifar10_train_subset --test ../shared/data/cifar10_test_subset --minutes 10 --record
"""

from __future__ import annotations

import argparse
import math
import statistics
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

from lookalike.data import find_images
from lookalike.embed import EmbedSettings
from lookalike.evaluate import evaluate
from lookalike.models import Encoder, EncoderConfig, load_model
from lookalike.objectives.choice import ObjectiveChoice
from lookalike.train import TrainSettings, train_folder
from record import add_record_options, publish
from train_throughput import LIGHTLY_LR, LightlyLoop, subset_folder

SIMCLR = ObjectiveChoice("simclr")


def lightly_for(seconds: float, folder: Path, args) -> tuple[nn.Module, float, int]:
    """The backbone after `seconds` of the reference loop; the seconds it took and the images it saw."""
    started = time.perf_counter()
    loop = LightlyLoop(folder, args)
    images = 0
    while True:
        for (first, second), _ in loop.loader:
            spent = time.perf_counter() - started
            if spent >= seconds:
                return loop.backbone.eval().cpu(), spent, images
            for group in loop.optimizer.param_groups:
                group["lr"] = LIGHTLY_LR * 0.5 * (1 + math.cos(math.pi * spent / seconds))
            loop.step(first, second)
            images += len(first)


def lookalike_rate(folder: Path, scratch: Path, args) -> float:
    """Images per second of lookalike's SimCLR training, from two epochs on a small subset (the second timed)."""
    subset = subset_folder(folder, 5 * args.batch_size, scratch / "rate-images")
    run = train_folder(subset, scratch / "rate-model", objective=SIMCLR, image_size=args.image_size,
                       settings=TrainSettings.with_defaults(SIMCLR.default_training, epochs=2,
                                                            batch_size=args.batch_size, device=args.device))
    return statistics.median(row["images_per_second"] for row in run.report.history[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", type=Path, help="unlabeled images to train on")
    parser.add_argument("--train", type=Path, required=True, help="labelled folder the probe is fitted on")
    parser.add_argument("--test", type=Path, required=True, help="labelled folder the probe is scored on")
    parser.add_argument("--minutes", type=float, default=10.0, help="wall-clock budget of each side")
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--workers", type=int, default=torch.get_num_threads())
    parser.add_argument("--device", default="cpu")
    add_record_options(parser)
    args = parser.parse_args()
    budget = args.minutes * 60

    with tempfile.TemporaryDirectory() as scratch_dir:
        scratch = Path(scratch_dir)
        rate = lookalike_rate(args.data, scratch, args)
        train_images = round(len(find_images(args.data)) * 0.8)  # train_folder holds 20 % out for validation
        started = time.perf_counter()
        # The budget covers decoding too: about what the rate run spent per image, charged up front.
        epochs = max(1, int(budget * 0.95 * rate / train_images) - 1)
        train_folder(args.data, scratch / "lookalike", objective=SIMCLR, image_size=args.image_size,
                     settings=TrainSettings.with_defaults(SIMCLR.default_training, epochs=epochs,
                                                          batch_size=args.batch_size, device=args.device))
        ours_seconds = time.perf_counter() - started
        theirs, theirs_seconds, theirs_images = lightly_for(budget, args.data, args)
        reference = Encoder(EncoderConfig(image_size=args.image_size, head=(512, 128), embed_from="backbone"))
        reference.backbone.load_state_dict(theirs.state_dict())
        settings = EmbedSettings(device=args.device)
        scores = {
            f"lightly SimCLR loop ({theirs_images / len(find_images(args.data)):.1f} epochs)":
                (evaluate(reference.eval(), args.train, args.test, settings=settings, cache_dir=None),
                 theirs_seconds),
            f"lookalike SimCLR ({epochs} epochs)":
                (evaluate(load_model(scratch / "lookalike"), args.train, args.test, settings=settings,
                          cache_dir=None), ours_seconds),
        }
    lines = [f"Budget {args.minutes:g} min each; lookalike measured at {rate:.0f} img/s before its run.", "",
             "| training | wall time used | probe top-1 | probe top-5 | kNN top-1 |", "|---|---|---|---|---|"]
    for name, (result, seconds) in scores.items():
        lines.append(f"| {name} | {seconds / 60:.1f} min | {result.probe.top1:.3f} | {result.probe.top5:.3f} | "
                     f"{result.knn_top1:.3f} |")
    publish("SimCLR quality at equal time against lightly (issue #6d)", lines, args)


if __name__ == "__main__":
    main()
