"""One point of the label-free recipe search (issue 19): a SimCLR run under a wall-clock budget, scored by the linear
probe, appended as one JSON line so that runs made one after another build one table.

Each run is what `lookalike train FOLDER --objective simclr --minutes M` does (20 % held out for validation, the
budget covering decoding and validation), with the settings given here in place of the defaults; then
`lookalike evaluate` fits the probe on --train and scores it on --test. View settings that `train` cannot name
(crop scale, jitter strength) are registered here as a preset for the run.

    .venv/bin/python bench/recipe_search.py ../shared/data/cifar10_train_subset \\
        --train ../shared/data/cifar10_train_subset --test ../shared/data/cifar10_test_subset \\
        --out /tmp/search/b128 --results bench-output/recipe_search.jsonl --minutes 10 --batch-size 128
    .venv/bin/python bench/recipe_search.py --table bench-output/recipe_search.jsonl
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import time
from pathlib import Path

import torch

from lookalike.embed import EmbedSettings
from lookalike.evaluate import evaluate
from lookalike.models import load_model
from lookalike.objectives.choice import ObjectiveChoice
from lookalike.training import TrainSettings, train_folder
from lookalike.views import SimCLRView, register_preset

SEARCHED = ("backbone", "image_size", "batch_size", "lr", "temperature", "crop_min", "jitter")


def run(args: argparse.Namespace) -> dict:
    views = None
    if args.crop_min != 0.08 or args.jitter != 1.0:
        views = "searched"
        jitter = SimCLRView.with_strength(args.jitter)
        register_preset(views, lambda: SimCLRView(
            scale=(args.crop_min, 1.0), brightness=jitter.brightness, contrast=jitter.contrast,
            saturation=jitter.saturation, hue=jitter.hue))
    started = time.perf_counter()
    folder_run = train_folder(
        args.data, args.out, objective=ObjectiveChoice("simclr", temperature=args.temperature),
        settings=TrainSettings.with_defaults(
            ObjectiveChoice("simclr").spec.training, minutes=args.minutes, batch_size=args.batch_size, lr=args.lr),
        backbone=args.backbone, image_size=args.image_size, views=views)
    minutes = (time.perf_counter() - started) / 60
    result = evaluate(load_model(args.out), args.train, args.test, settings=EmbedSettings(batch_size=256),
                      cache_dir=None)
    history = folder_run.report.history
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    return {
        **{name: getattr(args, name) for name in SEARCHED},
        "minutes": round(minutes, 2), "epochs": len(history),
        "images_per_second": round(sum(r.images_per_second for r in history) / len(history), 1),
        "probe_top1": result.probe.top1, "knn_top1": result.knn_top1,
        "precision_at_1": result.retrieval.precision_at_1, "map_at_r": result.retrieval.map_at_r,
        "machine": f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads",
        "torch": torch.__version__, "commit": commit,
    }


def table(results: Path) -> str:
    rows = [json.loads(line) for line in results.read_text().splitlines() if line.strip()]
    lines = ["| backbone | px | batch | lr | T | crop min | jitter | img/s | epochs | probe top-1 | kNN top-1 |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in sorted(rows, key=lambda r: -r["probe_top1"]):
        lines.append(f"| {r['backbone']} | {r['image_size']} | {r['batch_size']} | {r['lr']:g} | {r['temperature']:g} "
                     f"| {r['crop_min']:g} | {r['jitter']:g} | {r['images_per_second']:.0f} | {r['epochs']} "
                     f"| {r['probe_top1']:.3f} | {r['knn_top1']:.3f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", type=Path, nargs="?", help="unlabeled images to train on")
    parser.add_argument("--train", type=Path, help="labelled folder the probe is fitted on")
    parser.add_argument("--test", type=Path, help="labelled folder the probe is scored on")
    parser.add_argument("--out", type=Path, help="model folder to write (must not exist)")
    parser.add_argument("--results", type=Path, help="JSON-lines file each run is appended to")
    parser.add_argument("--table", type=Path, help="print the table of a results file and stop")
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--backbone", default="resnet18")
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--temperature", type=float, default=0.2)
    parser.add_argument("--crop-min", type=float, default=0.08, help="smallest crop, as a share of the image's area")
    parser.add_argument("--jitter", type=float, default=1.0, help="SimCLR's colour-jitter strength s")
    args = parser.parse_args()
    if args.table:
        print(table(args.table))
        return
    if not (args.data and args.train and args.test and args.out and args.results):
        parser.error("a run needs DATA, --train, --test, --out and --results")
    row = run(args)
    args.results.parent.mkdir(parents=True, exist_ok=True)
    with args.results.open("a") as file:
        file.write(json.dumps(row) + "\n")
    print(json.dumps(row, indent=2))


if __name__ == "__main__":
    main()
