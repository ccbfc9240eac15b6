"""Quality at equal time: lookalike's SimCLR against the lightly SimCLR loop of bench/train_throughput.py, each given
the same wall-clock budget on the same unlabeled folder, then scored by the same linear probe.

- lightly's loop (the same model, transforms, loader, loss and AdamW as in train_throughput.py) trains until the
  budget is spent, its learning rate following a cosine over the budget's time, so it ends annealed whatever its
  speed;
- lookalike trains with `minutes` set to the budget, as `lookalike train --minutes` does: it stops when no further
  step fits, its cosine planned over the steps the time holds, as it goes. The recipe is the loop's: AdamW at 1e-3,
  no warm-up (lookalike's default warms up for an epoch, a third of a 10-minute run here). It holds 5 % of the
  folder out and validates on it after every epoch (`--valid-fraction`; its default is 20 %), and that time is part
  of its budget;
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
import tempfile
import time
from pathlib import Path

import torch
from record import add_record_options, publish
from torch import nn
from train_throughput import LIGHTLY_LR, LightlyLoop

from lookalike.data import find_images
from lookalike.embed import EmbedSettings
from lookalike.evaluate import evaluate
from lookalike.models import Encoder, EncoderConfig, load_model
from lookalike.objectives.choice import ObjectiveChoice
from lookalike.training import TrainSettings, train_folder

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
    parser.add_argument("--valid-fraction", type=float, default=0.05, help="lookalike's validation hold-out")
    add_record_options(parser)
    args = parser.parse_args()
    budget = args.minutes * 60

    with tempfile.TemporaryDirectory() as scratch_dir:
        scratch = Path(scratch_dir)
        started = time.perf_counter()
        ours = train_folder(args.data, scratch / "lookalike", objective=SIMCLR, image_size=args.image_size,
                            valid_fraction=args.valid_fraction,
                            settings=TrainSettings.with_defaults(SIMCLR.default_training, minutes=args.minutes,
                                                                 warmup_epochs=0.0, batch_size=args.batch_size,
                                                                 device=args.device))
        ours_seconds = time.perf_counter() - started
        ours_epochs = sum(row.images for row in ours.report.history) / len(ours.train_paths)
        theirs, theirs_seconds, theirs_images = lightly_for(budget, args.data, args)
        folder_images = len(find_images(args.data))
        reference = Encoder(EncoderConfig(image_size=args.image_size, head=(512, 128), embed_from="backbone"))
        reference.backbone.load_state_dict(theirs.state_dict())
        settings = EmbedSettings(device=args.device)
        scores = {
            f"lightly SimCLR loop ({theirs_images / folder_images:.1f} epochs of {folder_images} images)":
                (evaluate(reference.eval(), args.train, args.test, settings=settings, cache_dir=None),
                 theirs_seconds),
            f"lookalike SimCLR ({ours_epochs:.1f} epochs of {len(ours.train_paths)} images)":
                (evaluate(load_model(scratch / "lookalike"), args.train, args.test, settings=settings,
                          cache_dir=None), ours_seconds),
        }
    lines = [f"Budget {args.minutes:g} min each.", "",
             "| training | wall time used | probe top-1 | probe top-5 | kNN top-1 |", "|---|---|---|---|---|"]
    for name, (result, seconds) in scores.items():
        lines.append(f"| {name} | {seconds / 60:.1f} min | {result.probe.top1:.3f} | {result.probe.top5:.3f} | "
                     f"{result.knn_top1:.3f} |")
    publish("SimCLR quality at equal time against lightly (issue #6d)", lines, args)


if __name__ == "__main__":
    main()
