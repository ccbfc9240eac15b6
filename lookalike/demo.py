"""The main job, end to end: a labelled folder in, a searchable gallery and an honest HTML report out.

Labels (folder names) are read only to score the results: the model and the gallery never see them.
"""

from __future__ import annotations

import shutil
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lookalike import __version__
from lookalike.data import find_images, label_for, split_indices
from lookalike.data.public_sets import demo_images
from lookalike.diagnostics import verdict
from lookalike.gallery import Gallery
from lookalike.indexing import IndexReport
from lookalike.metrics import RetrievalScores, retrieval_scores
from lookalike.models import Encoder, EncoderConfig, create_encoder, load_model, model_id
from lookalike.models.storage import CONFIG_FILE
from lookalike.objectives.choice import ObjectiveChoice
from lookalike.report.curves import CURVES_FILE
from lookalike.report.grid import render_grid
from lookalike.report.html import Section, write_report
from lookalike.search import QueryResult
from lookalike.session import Session
from lookalike.training import Callbacks, TrainSettings, train_folder
from lookalike.training.history import LOG_FILE, read_log
from lookalike.views import recipe_named

GRID_QUERIES = 6
GRID_HITS = 8


@dataclass(frozen=True)
class Recipe:
    """How the demo trains on a kind of data, and the words that tell the reader so."""

    objective: str
    views: str
    lr: float
    batch_size: int
    description: str


DEFAULT_RECIPE = Recipe("triplet", "seed", 3e-4, 64, "triplets with semi-hard mining on the seed's views")
RECIPES = {
    # The offline digits (the folder lookalike.data.public_sets makes): mirrored or half-cropped digits are other
    # digits, so the seed's views taught the encoder to confuse them; SimCLR with the strokes views wins instead.
    "sklearn_digits": Recipe("simclr", "strokes", 1e-3, 128, "SimCLR on views that keep a digit a digit (no mirror "
                                                              "images, crops of 60 % or more)"),
}


def recipe_for(data_dir: Path) -> Recipe:
    """The recipe for a public set the demo knows (by the folder its loader makes), else the default."""
    return RECIPES.get(data_dir.name, DEFAULT_RECIPE)


@dataclass
class Evaluation:
    """One encoder's gallery over the demo folder and its scores on the held-out queries."""

    name: str
    gallery: Path
    index: IndexReport
    results: list[QueryResult]
    query_labels: list[str | None]
    scores: RetrievalScores


@dataclass
class DemoResult:
    data_dir: Path
    data_description: str
    model_dir: Path
    report: Path
    grid: Path
    evaluations: list[Evaluation]
    """The untrained baseline first, then the trained encoder when training ran."""
    chance_precision_at_1: float

    @property
    def best(self) -> Evaluation:
        return self.evaluations[-1]


def run_demo(
    out_dir: str | Path = "demo-output",
    data: str | Path | None = None,
    *,
    backbone: str = "resnet18",
    image_size: int = 64,
    epochs: int = 50,
    minutes: float | None = 1.5,
    query_fraction: float = 0.2,
    seed: int = 0,
    say: Callable[[str], None] = print,
    on_plan: Callable[[int], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
    training: Callbacks | None = None,
) -> DemoResult:
    """Train a model on `data` (or a public set) without labels, index it, query a held-out fifth, write the report.

    Training runs for `minutes` (None: no budget), at most `epochs`, with the recipe that suits the data
    (`recipe_for`). `out_dir` belongs to the demo: a model or gallery in it that a rerun cannot reuse is rebuilt.
    `epochs=0` skips training and shows only the untrained baseline.
    """
    started = time.perf_counter()
    out_dir = Path(out_dir).resolve()
    if data is None:
        data_dir, description = demo_images()
    else:
        data_dir, description = Path(data).resolve(), "the folder given with --data"
    say(f"data: {data_dir} — {description}")
    recipe = recipe_for(data_dir)
    images = find_images(data_dir)
    _, query_positions = split_indices(len(images), 1 - query_fraction, seed)
    queries = [images[i] for i in query_positions]
    labels = [label_for(path, data_dir) for path in images]
    label_counts = Counter(labels)
    chance = sum((count / len(labels)) ** 2 for count in label_counts.values())

    # The untrained baseline is the trained encoder's network before training, read at the layer it will search with.
    objective = ObjectiveChoice(recipe.objective)
    config = EncoderConfig(backbone=backbone, image_size=image_size, head=objective.default_head,
                           embed_from=objective.default_embed_from)
    encoders = {"untrained": create_encoder(config, seed=seed)}
    model_dir = out_dir / "model"
    if epochs:
        settings = TrainSettings(epochs=epochs, minutes=minutes, batch_size=recipe.batch_size, lr=recipe.lr, seed=seed)
        encoders["trained"] = _trained_model(data_dir, model_dir, config, recipe, settings, say,
                                             training or Callbacks(say))
    evaluations = []
    for name, encoder in encoders.items():
        gallery = out_dir / f"gallery-{name}"
        _discard_if_other_model(gallery, encoder)
        with Session(gallery, encoder) as session:
            index = session.index(data_dir, on_plan=on_plan, on_progress=on_progress)
            searched = session.search_all(queries, k=max(label_counts.values()), exclude_self=True)
        query_labels = [label_for(Path(result.query), data_dir) for result in searched.results]
        scores = retrieval_scores(
            query_labels,
            [[hit.image.label for hit in result.hits] for result in searched.results],
            [label_counts[label] - 1 for label in query_labels],  # the query itself is excluded from its hits
        )
        say(f"{name} {backbone}: {index.found} images indexed ({index.embedded} embedded) in {index.seconds:.1f} s; "
            f"{scores.queries} held-out queries: precision@1 {scores.precision_at_1:.3f} (chance {chance:.3f}), "
            f"mAP@R {scores.map_at_r:.3f}")
        evaluations.append(Evaluation(name, gallery, index, searched.results, query_labels, scores))

    best = evaluations[-1]
    shown = _one_query_per_label(best.results, best.query_labels)[:GRID_QUERIES]
    grid = render_grid(
        [QueryResult(result.query, result.hits[:GRID_HITS]) for result in shown],
        out_dir / "search-grid.png",
        query_labels=[label_for(Path(result.query), data_dir) for result in shown],
    )
    curves = model_dir / CURVES_FILE if epochs else None
    report = write_report(
        out_dir / "report.html",
        "lookalike demo",
        _report_sections(data_dir, description, config, model_dir if epochs else None, evaluations, chance, grid,
                         curves, time.perf_counter() - started, recipe),
    )
    say(f"report: {report}")
    return DemoResult(data_dir, description, model_dir, report, grid, evaluations, chance)


def _trained_model(data_dir: Path, model_dir: Path, config: EncoderConfig, recipe: Recipe, settings: TrainSettings,
                   say: Callable[[str], None], callbacks: Callbacks) -> Encoder:
    """The model an earlier demo run trained with the same data, recipe and settings, or a newly trained one."""
    wanted = {"epochs": settings.epochs, "minutes": settings.minutes, "seed": settings.seed, "lr": settings.lr,
              "batch_size": settings.batch_size}
    if (model_dir / CONFIG_FILE).is_file():
        earlier = load_model(model_dir)
        training = earlier.origin.get("training", {})
        done = {key: training.get("settings", {}).get(key) for key in wanted}
        objective = ObjectiveChoice(recipe.objective)
        views = [view.to_dict() for view in objective.views(recipe_named(recipe.views))]
        if (earlier.config == config and training.get("folder") == str(data_dir) and done == wanted
                and training.get("objective") == recipe.objective and training.get("views") == views):
            say(f"model: reusing {model_dir}, trained by an earlier demo run with the same settings")
            return earlier
    shutil.rmtree(model_dir, ignore_errors=True)  # the demo's own folder, from a run with other settings
    budget = f"{settings.minutes:g} minutes (at most {settings.epochs} epochs)" if settings.minutes \
        else f"{settings.epochs} epochs"
    say(f"training {config.backbone} at {config.image_size} px for {budget} without labels: {recipe.description}; "
        f"into {model_dir}")
    train_folder(data_dir, model_dir, objective=ObjectiveChoice(recipe.objective), settings=settings,
                 backbone=config.backbone, image_size=config.image_size, head=config.head,
                 embed_from=config.embed_from, views=recipe.views, callbacks=callbacks)
    return load_model(model_dir)


def _discard_if_other_model(gallery: Path, encoder: Encoder) -> None:
    """The demo's galleries are its own: one built by another model is removed rather than refused."""
    if Gallery.exists(gallery):
        with Gallery.open(gallery, read_only=True) as opened:
            same = opened.info.model_id == model_id(encoder)
        if not same:
            shutil.rmtree(gallery)


def _one_query_per_label(results: list[QueryResult], labels: list[str | None]) -> list[QueryResult]:
    """The first query of each label, then the rest: a grid that shows every class at least once."""
    seen: set[str | None] = set()
    first: list[QueryResult] = []
    rest: list[QueryResult] = []
    for result, label in zip(results, labels):
        (rest if label in seen else first).append(result)
        seen.add(label)
    return first + rest


def _verdict(evaluations: list[Evaluation]) -> list[str]:
    """One plain sentence on whether training helped, since the table alone invites a wrong reading."""
    if len(evaluations) < 2:
        return []
    untrained, trained = evaluations[0].scores, evaluations[-1].scores
    if trained.map_at_r >= untrained.map_at_r:
        return [f"Training raised mAP@R from {untrained.map_at_r:.3f} to {trained.map_at_r:.3f}."]
    return [f"Training lowered mAP@R from {untrained.map_at_r:.3f} to {trained.map_at_r:.3f} on this data. The "
            "views taught the encoder to ignore what they change, and when a crop or a mirror image changes what "
            "the picture shows (a handwritten digit, for example), classes get pulled together. Choose views that "
            "keep identity for such data (train --views)."]


def _diagnostics(model_dir: Path) -> list[str]:
    """The diagnostics' one-sentence verdict, from the run's first and last logged epochs."""
    rows = read_log(model_dir / LOG_FILE)
    sentence = verdict(rows[0], rows[-1]) if rows else None
    return [sentence] if sentence else []


def _report_sections(data_dir, description, config, model_dir, evaluations, chance, grid, curves, seconds, recipe):
    best = evaluations[-1]
    trained = model_dir is not None
    return [
        Section("What ran", facts=[
            ("data", f"{data_dir} ({description})"),
            ("images found", str(best.index.found)),
            ("model", f"{config.backbone}, {config.image_size} px, {config.embedding_dim}-d embedding"),
            ("training", recipe.description if trained else "none (--epochs 0)"),
            ("trained model folder", str(model_dir) if trained else "no training (--epochs 0)"),
            *[(f"gallery ({e.name})", f"{e.gallery} (model id {e.index.model_id})") for e in evaluations],
            ("total time", f"{seconds:.1f} s"),
            ("lookalike", __version__),
        ]),
        Section("Retrieval quality", table=(
            ["encoder", "held-out queries", "precision@1", "R-precision", "mAP@R"],
            [[e.name, str(e.scores.queries), f"{e.scores.precision_at_1:.3f}", f"{e.scores.r_precision:.3f}",
              f"{e.scores.map_at_r:.3f}"] for e in evaluations]
            + [["chance", "", f"{chance:.3f}", "", ""]],
        ), notes=[
            "Each query is a gallery image searched with itself excluded; a hit counts as correct when it comes "
            "from the same folder. The folder names were read only for this scoring.",
            "The untrained encoder has its random initial weights: it shows what random convolutional features "
            "alone give. The trained one learned from the same folder without labels (a positive is an augmented "
            "view of the anchor, negatives are other images), so it has seen the query images, never their labels.",
            *_verdict(evaluations),
        ]),
        Section("Look-alikes", figures=[grid], notes=[
            f"From the {best.name} encoder. Left: the query. Then its nearest gallery images with cosine "
            "similarity; green frames share the query's folder, red ones do not."]),
        *([Section("Training", figures=[curves], notes=[
            "Loss per epoch, and the share of validation triplets (held-out images, fixed views) whose positive "
            "is nearer than their negative. Below, the label-free diagnostics on the same views: alignment, "
            "uniformity and effective rank.", *_diagnostics(model_dir)])] if curves else []),
        Section(f"Skipped files ({len(best.index.skipped)})",
                items=[str(bad) for bad in best.index.skipped] or ["none"]),
    ]
