"""One-shot identity on people the encoder never saw: recognition top-1, open-set rejection at the calibrated τ,
and verification EER, for a lookalike encoder trained here against Eigenfaces, raw pixels and the same encoder as its
training started (and, on aligned faces, dlib's pretrained face encoder).

Protocol (labels choose the split and score the results; training reads them only with --labels folders, and then
only the training people's):
- the identities are split in two by a seeded shuffle (or, with --first-half, in natural name order): half to train
  the encoder (and to fit its whitening and Eigenfaces' components), half to evaluate;
- of the evaluation people, `--enrolled` of them are enrolled with one image each (their first file) and their
  other images are recognised: top-1 is the share named correctly when the closest identity is taken whatever
  its distance; "top-1, every person enrolled" is the same with all the evaluation people enrolled (20-way on AT&T);
- verification EER and ROC AUC are measured on every genuine and every impostor pair among the evaluation people;
- τ is calibrated on pairs of the *training* people, at `--target-far` (so no evaluation person shapes τ): "known
  at τ" is the share of enrolled people's images named correctly and accepted, "rejected at τ" the share of the
  never-enrolled people's images answered unknown;
- the whole protocol is repeated for each `--seeds` value (another split, another training run), and the mean and
  spread over seeds are reported, since one split of 20 people moves top-1 by several points.
Every method uses the same images, decoded the same way (RGB, at --image-size px, through the --preprocess stage:
the centre square by default, or each photo's largest face, aligned, with "faces").

    .venv/bin/python bench/one_shot.py ../shared/data/att_faces --out bench-output/oneshot-att \
        --objective simclr --epochs 100 --lr 1e-3 --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import subprocess
import time
from pathlib import Path

import numpy as np
import torch

from lookalike.data import find_images, iter_decoded_batches, label_for
from lookalike.embed import EmbedSettings, Embedder
from lookalike.match import CosineDistance, calibrate, choose_threshold, labelled_pairs, recognise
from lookalike.models import EncoderConfig, create_encoder, load_model
from lookalike.models.whitening import DEFAULT_SHRINKAGE
from lookalike.objectives.choice import ObjectiveChoice
from lookalike.preprocess import stage_named
from lookalike.training import Callbacks, TrainSettings, train_folder
from lookalike.whiten import whiten_model

COSINE = CosineDistance()


def natural_key(name: str) -> list:
    """"s2" before "s10": digits compare as numbers."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def split_people(
    folder: Path, seed: int, out: Path, extra: list[Path], first_half: bool = False
) -> tuple[Path, dict[str, list[Path]], dict[str, list[Path]]]:
    """Half the identities (seeded, or the first half in natural name order) as a folder of symlinks to train on,
    with every image under `extra` (other people, e.g. another face set); the train and evaluation people's files."""
    by_person: dict[str, list[Path]] = {}
    for path in find_images(folder):
        by_person.setdefault(label_for(path, folder), []).append(path)
    names = sorted(by_person, key=natural_key)
    order = np.arange(len(names)) if first_half else np.random.default_rng(seed).permutation(len(names))
    train_names = sorted(names[i] for i in order[: len(names) // 2])
    eval_names = sorted(names[i] for i in order[len(names) // 2:])
    for name in train_names:
        (out / name).mkdir(parents=True, exist_ok=True)
        for path in by_person[name]:
            if not (out / name / path.name).is_symlink():  # already there when --rescore reuses a run
                (out / name / path.name).symlink_to(path)
    for number, root in enumerate(extra):
        for path in find_images(root):
            target = out / f"extra{number}" / path.relative_to(root.resolve())
            target.parent.mkdir(parents=True, exist_ok=True)
            if not target.is_symlink():
                target.symlink_to(path)
    return out, {n: by_person[n] for n in train_names}, {n: by_person[n] for n in eval_names}


def decode(paths: list[Path], size: int, preprocess: str) -> dict[Path, torch.Tensor]:
    """Each file's input as the preprocessing stage makes it (with faces: the largest face, aligned); a file in
    which the stage finds nothing is left out."""
    found: dict[Path, torch.Tensor] = {}
    for batch in iter_decoded_batches(paths, size, workers=0, stage=stage_named(preprocess)):
        for row, index in enumerate(batch.indices):
            found.setdefault(paths[index], batch.pixels[row])
    return found


def kept(group: dict[str, list[Path]], pixels: dict[Path, torch.Tensor]) -> dict[str, list[Path]]:
    """The people with at least two decoded images, and those images."""
    readable = {name: [path for path in paths if path in pixels] for name, paths in group.items()}
    return {name: paths for name, paths in readable.items() if len(paths) >= 2}


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
          pixels: dict[Path, torch.Tensor], target_far: float, open_set_far: float) -> dict:
    def vectors(paths):
        return embed(torch.stack([pixels[p] for p in paths]))

    train_paths = [p for paths in train.values() for p in paths]
    train_labels = [name for name, paths in train.items() for _ in paths]
    i, j, same = labelled_pairs(train_labels, max_impostors=None)
    train_vectors = vectors(train_paths)
    at_far = calibrate(COSINE.paired(train_vectors[i], train_vectors[j]), same, far_targets=(target_far,))
    threshold = choose_threshold(at_far, target_far=target_far)

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
    found = recognise(pick([p for _, p in queries]), gallery, members, threshold)
    top1 = np.mean([r.closest == n for (n, _), r in zip(queries, found)])
    known = np.mean([r.identity == n for (n, _), r in zip(queries, found)])
    outsiders = [p for n in strangers for p in evaluation[n]]
    rejected = np.mean([r.identity is None for r in recognise(pick(outsiders), gallery, members, threshold)])

    # The same closed-set top-1 with every evaluation person enrolled.
    every_query = [(n, p) for n in names for p in evaluation[n][1:]]
    closest = recognise(pick([p for _, p in every_query]), pick([evaluation[n][0] for n in names]), names, np.inf)
    top1_all = np.mean([r.closest == n for (n, _), r in zip(every_query, closest)])

    # Open-set identification without calibration: τ put where a share `open_set_far` of the strangers' images would
    # be let in (the detection and identification rate at that false positive identification rate).
    strangers_closest = np.sort([r.distance for r in recognise(pick(outsiders), gallery, members, np.inf)])
    open_tau = strangers_closest[int(open_set_far * len(strangers_closest))]
    detected = np.mean([r.closest == n and r.distance < open_tau for (n, _), r in zip(queries, found)])

    i, j, same = labelled_pairs(eval_labels, max_impostors=None)
    verification = calibrate(COSINE.paired(eval_vectors[i], eval_vectors[j]), same)
    return {"top1": float(top1), "top1_all": float(top1_all), "eer": verification.eer, "auc": verification.auc,
            "known_at_tau": float(known), "rejected_at_tau": float(rejected), "threshold": threshold,
            "detected_at_fpir": float(detected), "queries": len(queries), "strangers": len(outsiders)}


def one_split(args, seed: int) -> tuple[dict[str, dict], str]:
    """Train on one seeded half of the people, score every method on the other half; returns the scores by
    method and a line describing the run."""
    out = args.out / f"seed{seed}"
    train_dir, train, evaluation = split_people(args.folder, seed, out / "train-people", args.extra, args.first_half)
    trained_line = "reused"
    if not args.rescore:
        objective = ObjectiveChoice.from_options(args.objective, mining=args.mining, margin=args.margin)
        started = time.perf_counter()
        run = train_folder(
            train_dir, out / "model", objective=objective,
            settings=TrainSettings.with_defaults(objective.default_training, epochs=args.epochs,
                                                 batch_size=args.batch_size, lr=args.lr, seed=seed,
                                                 weight_decay=args.weight_decay,
                                                 per_identity=args.per_identity),
            image_size=args.image_size, views=args.views, labels=args.labels, preprocess=args.preprocess,
            valid_fraction=args.valid_fraction, embed_from=args.embed_from, weights=args.weights,
            trainable_from=args.trainable_from, backbone=args.backbone,
            callbacks=Callbacks(say=print, on_epoch=lambda r: print(f"epoch {r.epoch}: loss {r.train_loss:.4f}",
                                                                    flush=True)),
        )
        trained_line = f"trained on {len(run.train_paths)} images in {(time.perf_counter() - started) / 60:.1f} min"
        whiten_model(out / "model", train_dir, out / "model-whitened", shrinkage=args.shrinkage,
                     settings=EmbedSettings(workers=0))
    every = [p for group in (train, evaluation) for paths in group.values() for p in paths]
    pixels = decode(every, args.image_size, args.preprocess)
    train, evaluation = kept(train, pixels), kept(evaluation, pixels)
    train_pixels = torch.stack([pixels[p] for paths in train.values() for p in paths])
    trained_model = load_model(out / "model")
    # The encoder as training started (random or published weights), read at the layer the trained one is read at.
    untrained = create_encoder(trained_model.config, weights=args.weights, seed=seed)
    trained = f"lookalike, {args.objective} {'by identity' if args.labels else 'label-free'}, {args.epochs} epochs"
    methods = {
        f"raw pixels (grey, {args.preprocess})": raw_pixels,
        f"Eigenfaces (PCA-{args.components}, fit on the training people)": Eigenfaces(train_pixels, args.components),
        f"{args.backbone} as training started ({args.weights or 'random weights'})": Embedder(untrained).embed_pixels,
        trained: Embedder(trained_model).embed_pixels,
        f"{trained}, whitened on the training people": Embedder(load_model(out / "model-whitened")).embed_pixels,
    }
    enrolled = round(args.enrolled * len(evaluation))
    results = {name: score(embed, train, evaluation, enrolled, pixels, args.target_far, args.open_set_far)
               for name, embed in methods.items()}
    if args.preprocess == "faces":
        # dlib's own encoder, trained on millions of faces elsewhere: the ceiling, on the same faces at its own size.
        dlib_face = create_encoder(EncoderConfig.for_backbone("dlib-face"))
        chips = decode(every, dlib_face.config.image_size, "faces")
        results["dlib's face encoder (pretrained elsewhere, never trained here)"] = score(
            Embedder(dlib_face).embed_pixels, train, evaluation, enrolled, chips, args.target_far,
            args.open_set_far)
    extra = f" plus {', '.join(map(str, args.extra))}" if args.extra else ""
    line = (f"seed {seed}: {len(train)} people{extra}, model {trained_line}; {len(evaluation)} evaluation people, "
            f"{enrolled} enrolled with one image, {len(evaluation) - enrolled} never enrolled")
    return results, line


COLUMNS = {"top1": "one-shot top-1", "top1_all": "top-1, every person enrolled", "eer": "verification EER",
           "auc": "ROC AUC", "detected_at_fpir": "named, 10 % of strangers let in", "known_at_tau": "named at τ",
           "rejected_at_tau": "strangers rejected at τ"}


def table(by_seed: list[dict[str, dict]]) -> list[str]:
    """Markdown rows: each method's mean over seeds, with the spread (min-max) when there are several."""
    lines = ["| method | " + " | ".join(COLUMNS.values()) + " |", "|---" * (len(COLUMNS) + 1) + "|"]
    for method in by_seed[0]:
        cells = []
        for key in COLUMNS:
            values = np.array([results[method][key] for results in by_seed])
            spread = f" ({values.min():.3f}–{values.max():.3f})" if len(values) > 1 else ""
            cells.append(f"{values.mean():.3f}{spread}")
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path, help="one sub-folder per identity")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--objective", default="simclr")
    parser.add_argument("--mining", help="Triplet mining (default: the objective's own).")
    parser.add_argument("--views", default=None)
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--weight-decay", type=float, default=None)
    parser.add_argument("--margin", type=float, default=None, help="triplet margin (default: the objective's own)")
    parser.add_argument("--backbone", default="resnet18", help="the registered backbone to train")
    parser.add_argument("--weights", help="start from these backbone weights (a published name such as imagenet, or "
                                          "a safetensors file) instead of random")
    parser.add_argument("--trainable-from", help="first backbone stage to train (default with --weights: the "
                                                 "backbone's choice)")
    parser.add_argument("--embed-from", choices=["head", "backbone"], default=None,
                        help="the layer the trained model embeds from (default: the objective's own)")
    parser.add_argument("--shrinkage", type=float, default=DEFAULT_SHRINKAGE, help="whitening shrinkage")
    parser.add_argument("--enrolled", type=float, default=0.75, help="share of evaluation people enrolled")
    parser.add_argument("--target-far", type=float, default=1e-3,
                        help="τ is set where the training people's pairs reach this false accept rate")
    parser.add_argument("--open-set-far", type=float, default=0.1,
                        help="share of strangers let in where the threshold-free open-set rate is read")
    parser.add_argument("--rescore", action="store_true",
                        help="score the models an earlier run left in --out again instead of training new ones")
    parser.add_argument("--components", type=int, default=50, help="Eigenfaces components")
    parser.add_argument("--extra", type=Path, action="append", default=[],
                        help="more unlabeled images to train on (never the evaluation people); repeatable")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--first-half", action="store_true",
                        help="train on the first half of the people in natural name order (AT&T's s1-s20) rather "
                             "than a seeded half; the seeds then only seed the training")
    parser.add_argument("--valid-fraction", type=float, default=0.2,
                        help="share of the training people's images held out to validate")
    parser.add_argument("--labels", choices=["folders"], default=None,
                        help="train by identity on the training people's folders (default: label-free)")
    parser.add_argument("--per-identity", type=int, default=None, help="with --labels: images of one person per batch")
    parser.add_argument("--preprocess", default="centre-crop",
                        help="the stage every method's images go through (faces: each photo's largest face, aligned; "
                             "photos without one are left out)")
    args = parser.parse_args()

    runs = [one_split(args, seed) for seed in args.seeds]
    by_seed = [results for results, _ in runs]
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    print(f"\nmachine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, "
          f"torch {torch.__version__}, commit {commit}")
    for _, line in runs:
        print(line)
    print(f"τ at FAR {args.target_far:g} on the training people's pairs; mean over seeds {args.seeds} "
          "(min–max in brackets)")
    print("\n".join(table(by_seed)))
    (args.out / "bench_one_shot.json").write_text(json.dumps(dict(zip(map(str, args.seeds), by_seed)), indent=2))


if __name__ == "__main__":
    main()
