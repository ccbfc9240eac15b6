"""Training from a folder of unlabeled images (or an STL-10 or CIFAR-10 folder), and resuming such a run: what
`lookalike train` does.

Folder names and data-set labels are never read here: the split is by position and the objectives make their own
pairs, so the training is label-free whatever the folder looks like.

Under torchrun every process runs this same code; only the first one reports progress and writes files.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from lookalike import distributed
from lookalike.data import BadImage, split_indices
from lookalike.data.cache import ImageCache
from lookalike.data.sources import training_images, typical_side
from lookalike.errors import LookalikeError, NothingReadable
from lookalike.models import EncoderConfig, backbone_spec, create_encoder, refuse_existing_model
from lookalike.objectives.choice import ObjectiveChoice
from lookalike.preprocess import DEFAULT_STAGE, stage_named
from lookalike.runtime import pick_device
from lookalike.training.checkpoint import checkpoint_dir, load_checkpoint
from lookalike.training.history import EpochRow
from lookalike.training.settings import TrainSettings
from lookalike.training.trainer import StepProgress, TrainReport, Trainer
from lookalike.training.validation import MAX_IMAGES as MAX_VALIDATION_IMAGES
from lookalike.views import ViewRecipe, recipe_from_dict, recipe_named


@dataclass
class FolderRun:
    """What a finished (or resumed) run did with the folder's files."""

    report: TrainReport
    train_paths: list[Path]
    valid_paths: list[Path]
    skipped: list[BadImage]
    duplicates: list[Path]
    reports: bool = True
    """Whether this process speaks for the run: the only one, or the first of several under torchrun."""


@dataclass
class Callbacks:
    say: Callable[[str], None] = print
    on_plan: Callable[[int], None] | None = None
    """Told how many files will be decoded into the cache."""
    on_decoded: Callable[[int], None] | None = None
    on_progress: Callable[[StepProgress], None] | None = None
    on_epoch: Callable[[EpochRow], None] | None = None


def train_folder(
    folder: str | Path,
    out: str | Path,
    *,
    objective: ObjectiveChoice = ObjectiveChoice(),
    settings: TrainSettings = TrainSettings(),
    backbone: str = "resnet18",
    weights: str | None = None,
    image_size: int | None = None,
    preprocess: str | None = None,
    head: tuple[int, ...] | None = None,
    embed_from: str | None = None,
    trainable_from: str | None = None,
    views: str | None = None,
    valid_fraction: float = 0.2,
    labels: str | None = None,
    callbacks: Callbacks = Callbacks(),
) -> FolderRun:
    """Train a new encoder on the images under `folder` and write it to `out` (a model folder).

    `image_size` defaults to the backbone's; `preprocess` names the stage that makes the input square from each
    decoded image (default: the centre crop, see lookalike.preprocess). With pretrained `weights` and no
    `trainable_from`, training starts at the stage the backbone names (`layer4` for the ResNets: with the head, as
    in the seed recipe).
    `views` names the augmentation recipe ("seed", "simclr", "faces"): by default the one the preprocessing stage
    asks for (faces for aligned face chips), else the objective's; `head` and `embed_from` default to what the
    objective trains best with (see ObjectiveChoice). With `labels="folders"`, the sub-folder names are
    identities and batches hold several images of each (see lookalike.training.batches): the positives are other
    images of the same identity, as FaceNet trains; without labels (the default) no label is read.
    """
    out = Path(out)
    if checkpoint_dir(out).is_dir():
        raise LookalikeError(f"{out} already holds a training run; pass --resume to continue it, or choose another "
                             "--out")
    refuse_existing_model(out)
    if not 0 < valid_fraction < 1:
        raise LookalikeError(f"the validation fraction must be between 0 and 1, got {valid_fraction}")
    if labels not in (None, "folders"):
        raise LookalikeError(f"unknown labels {labels!r}: give 'folders' (sub-folder names are identities) or none")
    if labels and not objective.spec.learns_identities:
        raise LookalikeError(f"the {objective.name} objective learns from views of one image and cannot use identity "
                             "labels; train by identity with --objective triplet or pair")
    if not backbone_spec(backbone).trainable:
        raise LookalikeError(f"the {backbone} backbone comes trained and cannot be trained here; use it as it is "
                             f"(lookalike create-model M --backbone {backbone}), or train another backbone")
    if trainable_from is None and weights is not None:
        trainable_from = backbone_spec(backbone).pretrained_trainable_from
    if image_size is None and weights is None and (preprocess or backbone_spec(backbone).preprocess) == DEFAULT_STAGE:
        image_size = small_input_size(folder, backbone_spec(backbone).image_size)
        if image_size is not None:
            callbacks.say(f"the images are small: training at {image_size} px, twice their size (--image-size "
                          "chooses)")
    config = EncoderConfig.for_backbone(backbone, image_size=image_size, preprocess=preprocess,
                                        head=head or objective.default_head,
                                        trainable_from=trainable_from, pair_head=objective.encoder_pair_head,
                                        embed_from=embed_from or objective.default_embed_from)
    stage = stage_named(config.preprocess)
    first, second = objective.views(recipe_named(views or stage.views or objective.default_views))
    encoder = create_encoder(config, weights=weights, seed=settings.seed)
    run_info = {
        "folder": str(Path(folder).resolve()),
        "objective": objective.name,
        "objective_settings": objective.describe(),
        "views": [first.to_dict(), second.to_dict()],
        "valid_fraction": valid_fraction,
        "labels": labels,
    }
    return _run(folder, out, encoder, objective, first, second, settings, run_info, False, callbacks)


def small_input_size(folder: str | Path, default: int) -> int | None:
    """The input size for images much smaller than a backbone's `default`: twice their typical side, in steps of 16
    (CIFAR-10's 32 px: 64), or None when `default` is no more than that. Upsampling 32 px images to 128 costs four
    times the compute of 64 for no detail they have: in ten CPU-minutes of SimCLR on CIFAR-10, 64 px gave the best
    linear probe (BENCHMARKS.md)."""
    side = typical_side(folder)
    if side is None:
        return None
    size = max(32, 16 * math.ceil(2 * side / 16))
    return size if size < default else None


def resume_training(
    out: str | Path, *, epochs: int | None = None, minutes: float | None = None, callbacks: Callbacks = Callbacks(),
) -> FolderRun:
    """Continue the run saved in `out` from its last finished epoch, with its own settings (and, if given, a new
    total number of epochs or a new time budget, counting the minutes already spent)."""
    out = Path(out)
    meta = load_checkpoint(checkpoint_dir(out)).meta
    run_info = meta["run"]
    settings = TrainSettings.from_dict(meta["settings"])
    if epochs is not None:
        settings = replace(settings, epochs=epochs)
    if minutes is not None:
        settings = replace(settings, minutes=minutes)
    objective = ObjectiveChoice(**run_info["objective_settings"])
    encoder = create_encoder(EncoderConfig.from_dict(meta["architecture"]), seed=settings.seed)
    first, second = (recipe_from_dict(view) for view in run_info["views"])
    callbacks.say(f"resuming {out} after epoch {meta['epoch']} of {settings.epochs}; "
                  "its settings come from the checkpoint")
    return _run(run_info["folder"], out, encoder, objective, first, second, settings, run_info, True, callbacks)


def _run(
    folder, out: Path, encoder, objective: ObjectiveChoice, first: ViewRecipe, second: ViewRecipe,
    settings: TrainSettings, run_info: dict, resume: bool, callbacks: Callbacks,
) -> FolderRun:
    started = time.perf_counter()  # a time budget counts decoding too
    ranks = distributed.init_from_environment(pick_device(settings.device))
    if not ranks.is_main:
        callbacks = Callbacks(say=lambda line: None)
    cache_size = round(encoder.config.image_size * max(first.detail_scale, second.detail_scale))
    cache = training_images(folder, cache_size, workers=settings.workers, on_plan=callbacks.on_plan,
                            on_progress=callbacks.on_decoded, stage=stage_named(encoder.config.preprocess),
                            identities=run_info.get("labels") == "folders")
    if not len(cache) and cache.skipped:
        raise NothingReadable(cache.skipped)
    found = len(cache) + len(cache.duplicates) + len(cache.skipped)
    if resume and run_info.get("files") != found:
        callbacks.say(f"warning: {folder} held {run_info.get('files')} images when the run started and holds "
                      f"{found} now; the split and the remaining epochs will differ from the original run")
    run_info["files"] = found
    train, valid = _split(cache, run_info["valid_fraction"], settings.seed)
    read = f" (validation reads {MAX_VALIDATION_IMAGES:,})" if len(valid) > MAX_VALIDATION_IMAGES else ""
    callbacks.say(f"{found} images: {len(train)} to train on, {len(valid)} held out{read}"
                  + (f", {len(cache.duplicates)} duplicates left out" if cache.duplicates else "")
                  + (f", {len(cache.skipped)} unreadable" if cache.skipped else ""))
    if train.labels is not None:
        _say_about_identities(train.labels, settings.per_identity, callbacks)
    trainer = Trainer(encoder, objective.build(encoder), first, second, settings, out, run_info=run_info)
    try:
        report = trainer.fit(train, valid, resume=resume, on_progress=callbacks.on_progress,
                             on_epoch=callbacks.on_epoch, started=started)
    finally:
        distributed.leave()
    return FolderRun(report, train.paths, valid.paths, cache.skipped, cache.duplicates, ranks.is_main)


def _say_about_identities(labels: list[str], per_identity: int, callbacks: Callbacks) -> None:
    """How many identities there are to train on, and a warning for those with one image: P x K sampling needs at
    least two images of an identity to give it a positive."""
    counts = Counter(labels)
    callbacks.say(f"training by identity: {len(counts)} identities, up to {per_identity} images of each per batch")
    single = sorted(name for name, count in counts.items() if count == 1)
    if single:
        callbacks.say(f"warning: {len(single)} identities have one training image ({', '.join(single[:5])}"
                      f"{', ...' if len(single) > 5 else ''}); an identity needs two images to have a positive, so "
                      "these serve only as negatives")


def _split(cache: ImageCache, valid_fraction: float, seed: int) -> tuple[ImageCache, ImageCache]:
    if len(cache) < 2:
        raise LookalikeError(f"training needs at least 2 distinct readable images, found {len(cache)}")
    if len(cache) < 4:  # too few to hold any out: train on all and skip validation
        return cache, cache.subset([])
    train, valid = split_indices(len(cache), 1 - valid_fraction, seed)
    return cache.subset(train), cache.subset(valid)
