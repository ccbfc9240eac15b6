"""One-shot identity on people the encoder never saw: recognition top-1, open-set rejection at the calibrated τ,
and verification EER, for a label-free lookalike encoder against Eigenfaces, raw pixels and an untrained ResNet.

Protocol (labels choose the split and score the results; training never reads them):
- the identities are split in two by a seeded shuffle: half to train the encoder without labels, half to evaluate;
- τ is calibrated at the EER on pairs of the *training* people (so no evaluation person shapes τ);
- of the evaluation people, `--enrolled` of them are enrolled with one image each (their first file) and their
  other images are recognised: top-1 is the share named correctly when the closest identity is taken whatever
  its distance, and "known at τ" the share named correctly and accepted at τ;
- the other evaluation people are never enrolled: "rejected at τ" is the share of their images answered unknown;
- verification EER is measured on every genuine pair and every impostor pair among the evaluation people.
Every method uses the same images, decoded the same way (RGB, shorter side scaled, centre crop, --image-size px).

    .venv/bin/python bench/one_shot.py ../shared/data/att_faces --out bench-output/oneshot-att
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
from lookalike.match import CosineDistance, calibrate, choose_threshold, labelled_pairs, recognise
from lookalike.models import EncoderConfig, create_encoder, load_model
from lookalike.objectives.choice import ObjectiveChoice
from lookalike.train import Callbacks, TrainSettings, train_folder

COSINE = CosineDistance()


def split_people(
    folder: Path, seed: int, out: Path, extra: list[Path]
) -> tuple[Path, dict[str, list[Path]], dict[str, list[Path]]]:
    """Half the identities (seeded) as a folder of symlinks to train on, with every image under `extra` (other
    people, e.g. another face set); the train and evaluation people's files."""
    by_person: dict[str, list[Path]] = {}
    for path in find_images(folder):
        by_person.setdefault(label_for(path, folder), []).append(path)
    names = sorted(by_person)
    order = np.random.default_rng(seed).permutation(len(names))
    train_names = sorted(names[i] for i in order[: len(names) // 2])
    eval_names = sorted(names[i] for i in order[len(names) // 2:])
    for name in train_names:
        (out / name).mkdir(parents=True, exist_ok=True)
        for path in by_person[name]:
            (out / name / path.name).symlink_to(path)
    for number, root in enumerate(extra):
        for path in find_images(root):
            target = out / f"extra{number}" / path.relative_to(root.resolve())
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(path)
    return out, {n: by_person[n] for n in train_names}, {n: by_person[n] for n in eval_names}


def decode(paths: list[Path], size: int) -> torch.Tensor:
    return torch.cat([batch.pixels for batch in iter_decoded_batches(paths, size, workers=0)])


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)).astype(np.float32)


def raw_pixels(pixels: torch.Tensor) -> np.ndarray:
    """Grey levels, each image shifted to zero mean, L2-normalised: cosine is then the pixel correlation."""
    grey = pixels.float().mean(dim=1).flatten(1).numpy()
    return unit(grey - grey.mean(axis=1, keepdims=True))


class Eigenfaces:
    """Turk & Pentland (1991): principal components of the training people's grey images; faces are compared by
    the cosine of their centred projections."""

    def __init__(self, train_pixels: torch.Tensor, components: int) -> None:
        grey = train_pixels.float().mean(dim=1).flatten(1).numpy()
        self.mean = grey.mean(axis=0)
        _, _, vt = np.linalg.svd(grey - self.mean, full_matrices=False)
        self.basis = vt[:components]

    def __call__(self, pixels: torch.Tensor) -> np.ndarray:
        grey = pixels.float().mean(dim=1).flatten(1).numpy()
        return unit((grey - self.mean) @ self.basis.T)


def score(embed, train: dict[str, list[Path]], evaluation: dict[str, list[Path]], enrolled: int,
          pixels: dict[Path, torch.Tensor]) -> dict:
    def vectors(paths):
        return embed(torch.stack([pixels[p] for p in paths]))

    train_paths = [p for paths in train.values() for p in paths]
    train_labels = [name for name, paths in train.items() for _ in paths]
    i, j, same = labelled_pairs(train_labels)
    train_vectors = vectors(train_paths)
    tau = choose_threshold(calibrate(COSINE.paired(train_vectors[i], train_vectors[j]), same))

    names = list(evaluation)
    eval_paths = [p for n in names for p in evaluation[n]]
    eval_labels = [n for n in names for _ in evaluation[n]]
    eval_vectors = vectors(eval_paths)  # every evaluation image embedded once, then picked from
    row = {path: i for i, path in enumerate(eval_paths)}

    def pick(paths):
        return eval_vectors[[row[p] for p in paths]]

    members, strangers = names[:enrolled], names[enrolled:]
    gallery = pick([evaluation[n][0] for n in members])
    queries = [(n, p) for n in members for p in evaluation[n][1:]]
    found = recognise(pick([p for _, p in queries]), gallery, members, tau)
    top1 = np.mean([r.closest == n for (n, _), r in zip(queries, found)])
    known = np.mean([r.identity == n for (n, _), r in zip(queries, found)])
    outsiders = [p for n in strangers for p in evaluation[n]]
    rejected = np.mean([r.identity is None for r in recognise(pick(outsiders), gallery, members, tau)])

    i, j, same = labelled_pairs(eval_labels, max_impostors=None)
    verification = calibrate(COSINE.paired(eval_vectors[i], eval_vectors[j]), same)
    return {"top1": float(top1), "known_at_tau": float(known), "rejected_at_tau": float(rejected),
            "eer": verification.eer, "auc": verification.auc, "tau": tau, "queries": len(queries),
            "strangers": len(outsiders)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path, help="one sub-folder per identity")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--objective", default="triplet")
    parser.add_argument("--mining", default="semihard")
    parser.add_argument("--views", default=None)
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument("--enrolled", type=float, default=0.75, help="share of evaluation people enrolled")
    parser.add_argument("--components", type=int, default=50, help="Eigenfaces components")
    parser.add_argument("--extra", type=Path, action="append", default=[],
                        help="more unlabeled images to train on (never the evaluation people); repeatable")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    train_dir, train, evaluation = split_people(args.folder, args.seed, args.out / "train-people", args.extra)
    started = time.perf_counter()
    run = train_folder(
        train_dir, args.out / "model",
        objective=ObjectiveChoice(args.objective, mining=args.mining),
        settings=TrainSettings.with_defaults(ObjectiveChoice(args.objective).default_training, epochs=args.epochs,
                                             batch_size=args.batch_size, lr=args.lr, seed=args.seed),
        image_size=args.image_size, views=args.views,
        callbacks=Callbacks(say=print, on_epoch=lambda r: print(f"epoch {r['epoch']}: loss {r['train_loss']:.4f}",
                                                                flush=True)),
    )
    minutes = (time.perf_counter() - started) / 60
    every = [p for group in (train, evaluation) for paths in group.values() for p in paths]
    pixels = dict(zip(every, decode(every, args.image_size)))
    train_pixels = torch.stack([pixels[p] for paths in train.values() for p in paths])
    trained, untrained = load_model(args.out / "model"), create_encoder(EncoderConfig(image_size=args.image_size))
    methods = {
        "raw pixels (grey, centred)": raw_pixels,
        f"Eigenfaces (PCA-{args.components}, fit on the training people)": Eigenfaces(train_pixels, args.components),
        "untrained ResNet-18": Embedder(untrained).embed_pixels,
        f"lookalike, {args.objective} label-free, {len(run.report.history)} epochs": Embedder(trained).embed_pixels,
    }
    enrolled = round(args.enrolled * len(evaluation))
    results = {name: score(embed, train, evaluation, enrolled, pixels) for name, embed in methods.items()}

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    print(f"\nmachine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, "
          f"torch {torch.__version__}, commit {commit}")
    extra = f" plus {', '.join(map(str, args.extra))}" if args.extra else ""
    print(f"{args.folder}: {len(train)} people{extra} ({len(run.train_paths)} images) trained on in {minutes:.1f} min; "
          f"{len(evaluation)} evaluation people, {enrolled} enrolled with one image, {len(evaluation) - enrolled} "
          f"never enrolled")
    print("| method | one-shot top-1 | known at τ | strangers rejected at τ | verification EER | ROC AUC |")
    print("|---|---|---|---|---|---|")
    for name, r in results.items():
        print(f"| {name} | {r['top1']:.3f} | {r['known_at_tau']:.3f} | {r['rejected_at_tau']:.3f} | "
              f"{r['eer']:.3f} | {r['auc']:.3f} |")
    (args.out / "bench_one_shot.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
