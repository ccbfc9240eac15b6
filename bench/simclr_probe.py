"""SimCLR pretraining judged by the linear probe: the pretrained encoder against a random-init encoder of the same
architecture, on the same features protocol (SimCLR's linear evaluation, plus weighted kNN and retrieval).

Pretrains with `lookalike.training.train_folder` (labels never read), then runs `lookalike.evaluate.evaluate` on both
encoders: the probe is fitted on the labelled train split and scored on the test split.

Without --test, the folder is split per class (the labels are read for this split only, never by the training):
--test-fraction of each class becomes the test split, and pretraining sees only the rest. The splits are folders of
symbolic links under --out, so no image is copied.

    .venv/bin/python bench/simclr_probe.py ../shared/data/cifar10_train_subset \\
        --test ../shared/data/cifar10_test_subset --out bench-output/simclr-cifar --image-size 64 --epochs 20

An STL-10 or CIFAR-10 folder serves as both: pretraining reads its unlabeled (STL-10) or train (CIFAR-10) images,
the probe its labelled train split, the score its test split. `--download stl10` fetches STL-10 first (2.6 GB).
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import time
from pathlib import Path

import torch

from lookalike.data import find_images, label_for, split_indices
from lookalike.data.cifar import download_cifar10
from lookalike.data.stl10 import download_stl10
from lookalike.embed import EmbedSettings
from lookalike.evaluate import Evaluation, evaluate
from lookalike.models import EncoderConfig, create_encoder, load_model
from lookalike.objectives.choice import ObjectiveChoice
from lookalike.training import Callbacks, TrainSettings, train_folder


def split_by_class(folder: Path, test_fraction: float, seed: int, out: Path) -> tuple[Path, Path]:
    """Symlink folders out/train and out/test holding (1 - test_fraction) and test_fraction of each class."""
    by_class: dict[str, list[Path]] = {}
    for path in find_images(folder):
        by_class.setdefault(label_for(path, folder), []).append(path)
    for label, paths in by_class.items():
        train, test = split_indices(len(paths), 1 - test_fraction, seed)
        for role, positions in (("train", train), ("test", test)):
            target = out / role / label
            target.mkdir(parents=True, exist_ok=True)
            for i in positions:
                (target / paths[i].name).symlink_to(paths[i])
    return out / "train", out / "test"


def row(name: str, result: Evaluation) -> str:
    return (f"| {name} | {result.probe.top1:.3f} | {result.probe.top5:.3f} | {result.knn_top1:.3f} | "
            f"{result.retrieval.precision_at_1:.3f} | {result.retrieval.map_at_r:.3f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path, help="labelled folder; pretraining ignores the labels")
    parser.add_argument("--test", type=Path, help="labelled test folder (default: split --folder per class)")
    parser.add_argument("--test-fraction", type=float, default=0.2)
    parser.add_argument("--out", type=Path, required=True, help="folder to write (must not hold a model)")
    parser.add_argument("--backbone", default="resnet18")
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--weight-decay", type=float, default=1e-6)
    parser.add_argument("--temperature", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--warmup-epochs", type=float, default=1)
    parser.add_argument("--device", help="cpu, cuda (default: CUDA when present)")
    parser.add_argument("--download", choices=("stl10", "cifar10"), help="download the set into FOLDER first")
    args = parser.parse_args()

    if args.download:
        {"stl10": download_stl10, "cifar10": download_cifar10}[args.download](args.folder)

    train_dir, test_dir = args.folder, args.test
    if test_dir is None:
        train_dir, test_dir = split_by_class(args.folder, args.test_fraction, args.seed, args.out / "splits")
    started = time.perf_counter()
    run = train_folder(
        train_dir, args.out / "model",
        objective=ObjectiveChoice("simclr", temperature=args.temperature),
        settings=TrainSettings(epochs=args.epochs, batch_size=args.batch_size, optimizer="adamw", lr=args.lr,
                               weight_decay=args.weight_decay, warmup_epochs=args.warmup_epochs, seed=args.seed,
                               device=args.device),
        backbone=args.backbone, image_size=args.image_size, valid_fraction=0.05,
        callbacks=Callbacks(say=print, on_epoch=lambda r: print(
            f"epoch {r.epoch}: loss {r.train_loss:.4f}, positive top-1 {r.statistics['positive_top1']:.3f}, "
            f"{r.images_per_second:.0f} img/s, {r.seconds:.0f} s", flush=True)),
    )
    train_minutes = (time.perf_counter() - started) / 60
    trained = load_model(args.out / "model")
    config: EncoderConfig = trained.config
    settings = EmbedSettings(batch_size=256, device=args.device)
    results = {
        "random init": evaluate(create_encoder(config, seed=args.seed), train_dir, test_dir, settings=settings,
                                cache_dir=None),
        f"SimCLR, {len(run.report.history)} epochs": evaluate(trained, train_dir, test_dir, settings=settings,
                                                              cache_dir=None),
    }
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    print(f"\nmachine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, "
          f"torch {torch.__version__}, commit {commit}")
    print(f"pretraining: {len(run.train_paths)} images, {config.backbone} at {config.image_size} px, "
          f"batch {args.batch_size}, {len(run.report.history)} epochs in {train_minutes:.1f} min "
          f"(whole run incl. decoding)")
    first = next(iter(results.values()))
    print(f"probe: {first.train}; test: {first.test}; features from the {config.embed_from}")
    print("| encoder | probe top-1 | probe top-5 | kNN top-1 (k=20) | P@1 | mAP@R |")
    print("|---|---|---|---|---|---|")
    for name, result in results.items():
        print(row(name, result))
    (args.out / "bench_probe.json").write_text(json.dumps({k: v.to_dict() for k, v in results.items()}, indent=2))


if __name__ == "__main__":
    main()
