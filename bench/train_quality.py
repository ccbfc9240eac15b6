"""Does label-free training help retrieval? A trained encoder against an untrained one and against raw pixels.

Trains on the folder with `lookalike.training.train_folder` (labels never read), then scores retrieval with the folder
names as labels: every image queries all the others (cosine, itself excluded), reported on two galleries:
- all images, which training saw without labels (the transductive use: organise the folder you trained on);
- only the images the run held out for validation, which training never saw.
Baselines, on the same images and galleries: the same encoder as its training started (random or published weights),
and raw pixels (the image at the model's input size, flattened and L2-normalised).

    .venv/bin/python bench/train_quality.py ../shared/data/flowers_recognition --out bench-output/flowers-triplet
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import time
from pathlib import Path

import numpy as np
import torch

from lookalike.data import find_images, iter_decoded_batches, label_for
from lookalike.embed import Embedder
from lookalike.metrics import RetrievalScores, retrieval_scores
from lookalike.models import create_encoder, load_model
from lookalike.objectives.choice import ObjectiveChoice
from lookalike.training import Callbacks, TrainSettings, train_folder


def leave_one_out_scores(vectors: np.ndarray, labels: list[str]) -> RetrievalScores:
    """Every item queries the rest by cosine similarity (vectors are unit length)."""
    similarity = vectors @ vectors.T
    np.fill_diagonal(similarity, -np.inf)
    ranked = np.argsort(-similarity, axis=1)[:, :-1]
    counts = {label: labels.count(label) for label in set(labels)}
    neighbours = [[labels[j] for j in row] for row in ranked]
    return retrieval_scores(labels, neighbours, [counts[label] - 1 for label in labels])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--out", type=Path, required=True, help="model folder to write (must not exist)")
    parser.add_argument("--objective", default="triplet")
    parser.add_argument("--mining", help="Triplet mining (default: semihard).")
    parser.add_argument("--views", default="seed")
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--backbone", default="resnet18")
    parser.add_argument("--weights", help="published weights (imagenet) or a safetensors file to start from")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument("--margin", type=float, help="Triplet margin (default: 0.2).")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    run_objective = ObjectiveChoice.from_options(args.objective, mining=args.mining, margin=args.margin)
    started = time.perf_counter()
    run = train_folder(
        args.folder, args.out,
        objective=run_objective,
        settings=TrainSettings(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, seed=args.seed),
        image_size=args.image_size, views=args.views, backbone=args.backbone, weights=args.weights,
        callbacks=Callbacks(say=print, on_epoch=lambda row: print(
            f"epoch {row.epoch}: loss {row.train_loss:.4f}, active {row.statistics.get('active', float('nan')):.3f}, "
            f"valid triplet accuracy {row.validation['valid_triplet_accuracy']:.3f}", flush=True)),
    )
    train_seconds = time.perf_counter() - started

    paths = find_images(args.folder)
    labels = [label_for(path, args.folder) for path in paths]
    valid_paths = set(run.valid_paths)
    held_out = [i for i, path in enumerate(paths) if path in valid_paths]
    trained = load_model(args.out)
    # The trained encoder as it started (random or published weights), read at the same layer.
    untrained = create_encoder(trained.config, weights=args.weights, seed=args.seed)
    size = trained.config.image_size
    pixels = torch.cat([batch.pixels for batch in iter_decoded_batches(paths, size)]).flatten(1).float()
    candidates = {
        "raw pixels": torch.nn.functional.normalize(pixels, dim=1).numpy(),
        f"{args.backbone} as training started ({args.weights or 'random weights'})":
        Embedder(untrained).embed_paths(paths).vectors,
        f"trained ({', '.join(map(str, run_objective.describe().values()))}, {args.views} views)":
        Embedder(trained).embed_paths(paths).vectors,
    }
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    print(f"\nmachine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, "
          f"torch {torch.__version__}, commit {commit}")
    print(f"training: {len(run.train_paths)} images, {len(run.report.history)} epochs in {train_seconds / 60:.1f} min; "
          f"{len(paths)} images scored, {len(held_out)} held out")
    print("| encoder | P@1 all | mAP@R all | P@1 held-out | mAP@R held-out |")
    print("|---|---|---|---|---|")
    results = {}
    for name, vectors in candidates.items():
        everything = leave_one_out_scores(vectors, labels)
        unseen = leave_one_out_scores(vectors[held_out], [labels[i] for i in held_out])
        results[name] = {"all": everything.__dict__, "held_out": unseen.__dict__}
        print(f"| {name} | {everything.precision_at_1:.3f} | {everything.map_at_r:.3f} | "
              f"{unseen.precision_at_1:.3f} | {unseen.map_at_r:.3f} |")
    (args.out / "bench_quality.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
