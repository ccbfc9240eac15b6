"""Do the label-free diagnostics track accuracy? One training run, its model kept after every epoch, each epoch's model
scored with labels, and the Spearman correlation of each logged diagnostic with each score over the epochs.

Training reads no label. The folder is split per class (its labels read for this split only): --test-fraction of
each class is scored, the rest is trained on and is the kNN and probe's labelled train split. The diagnostics are the
ones `train` logs to train_log.csv on its own validation images (lookalike.diagnostics); the scores are
`lookalike.evaluate`'s on the test split. A helpful diagnostic correlates negatively (alignment, uniformity: lower is
better) or positively (effective rank) with the scores.

    .venv/bin/python bench/diagnostics_track.py ../shared/data/cifar10_train_subset \\
        --test ../shared/data/cifar10_test_subset --out bench-output/track-cifar --objective simclr --minutes 10
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

import record
from scipy.stats import spearmanr
from simclr_probe import split_by_class

from lookalike.diagnostics import COLUMNS as DIAGNOSTICS
from lookalike.embed import EmbedSettings
from lookalike.evaluate import evaluate
from lookalike.models.storage import CONFIG_FILE, WEIGHTS_FILE
from lookalike.objectives.choice import ObjectiveChoice
from lookalike.training import Callbacks, TrainSettings, train_folder
from lookalike.training.history import EpochRow

SCORES = {"probe top-1": lambda e: e.probe.top1, "kNN top-1": lambda e: e.knn_top1,
          "P@1": lambda e: e.retrieval.precision_at_1, "mAP@R": lambda e: e.retrieval.map_at_r}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path, help="labelled folder; training ignores the labels")
    parser.add_argument("--test", type=Path, help="labelled test folder (default: split --folder per class)")
    parser.add_argument("--test-fraction", type=float, default=0.2)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--objective", default="simclr")
    parser.add_argument("--backbone", default="resnet18")
    parser.add_argument("--weights", help="published weights (imagenet) or a safetensors file to start from")
    parser.add_argument("--image-size", type=int, help="default: the backbone's")
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--minutes", type=float)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--lr", type=float)
    parser.add_argument("--seed", type=int, default=0)
    record.add_record_options(parser)
    args = parser.parse_args()

    train_dir, test_dir = args.folder, args.test
    if test_dir is None:
        train_dir, test_dir = split_by_class(args.folder, args.test_fraction, args.seed, args.out / "splits")
    model_dir, snapshots = args.out / "model", args.out / "epochs"

    def keep(row: EpochRow) -> None:
        """The epoch's model, as the Trainer has just saved it, copied aside before the next epoch replaces it."""
        kept = snapshots / str(row.epoch)
        kept.mkdir(parents=True, exist_ok=True)
        for name in (CONFIG_FILE, WEIGHTS_FILE):
            shutil.copy2(model_dir / name, kept / name)
        print(f"epoch {row.epoch}: loss {row.train_loss:.4f}, "
              + ", ".join(f"{key[6:]} {row.validation[key]:.3f}" for key in DIAGNOSTICS), flush=True)

    objective = ObjectiveChoice.from_options(args.objective)
    started = time.perf_counter()
    run = train_folder(
        train_dir, model_dir, objective=objective,
        settings=TrainSettings.with_defaults(objective.default_training, epochs=args.epochs, minutes=args.minutes,
                                             batch_size=args.batch_size, lr=args.lr, seed=args.seed),
        backbone=args.backbone, weights=args.weights, image_size=args.image_size,
        callbacks=Callbacks(say=print, on_epoch=keep),
    )
    train_minutes = (time.perf_counter() - started) / 60
    settings = EmbedSettings(batch_size=128)
    history = run.report.history
    scores = {row.epoch: evaluate(snapshots / str(row.epoch), train_dir, test_dir, settings=settings, cache_dir=None)
              for row in history}

    lines = [f"{objective.name} on {args.folder.name}, {args.backbone} from {args.weights or 'random weights'}: "
             f"{len(run.train_paths)} training images, {len(history)} epochs in {train_minutes:.1f} min; scored on "
             f"{next(iter(scores.values())).test}", "",
             "| epoch | " + " | ".join(SCORES) + " | alignment | uniformity | effective rank |",
             "|---" * (len(SCORES) + 4) + "|"]
    for row in history:
        cells = [f"{score(scores[row.epoch]):.3f}" for score in SCORES.values()]
        cells += [f"{row.validation[key]:.3f}" for key in DIAGNOSTICS]
        lines.append(f"| {row.epoch} | " + " | ".join(cells) + " |")
    lines += ["", "Spearman correlation over the epochs (alignment and uniformity should be negative, rank positive):",
              "", "| diagnostic | " + " | ".join(SCORES) + " |", "|---" * (len(SCORES) + 1) + "|"]
    for key in DIAGNOSTICS:
        diagnostic = [row.validation[key] for row in history]
        cells = [f"{spearmanr(diagnostic, [score(scores[row.epoch]) for row in history]).statistic:+.2f}"
                 for score in SCORES.values()]
        lines.append(f"| {key[6:].replace('_', ' ')} | " + " | ".join(cells) + " |")
    record.publish(f"Label-free diagnostics against accuracy, {objective.name} on {args.folder.name}", lines, args)


if __name__ == "__main__":
    main()
