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

from lookalike.atomic import write_bytes_atomic
from lookalike.data import find_images, label_for
from lookalike.data.public_sets import demo_images
from lookalike.demo_report import DemoFigures, DemoRun, write_demo_report
from lookalike.embed import EmbedSettings
from lookalike.gallery import Gallery
from lookalike.indexing import IndexReport
from lookalike.job_progress import JobProgress, JobStatus
from lookalike.metrics import RetrievalScores, retrieval_scores
from lookalike.models import Encoder, EncoderConfig, create_encoder, load_model, model_id
from lookalike.models.backbones import backbone_spec
from lookalike.models.storage import CONFIG_FILE
from lookalike.objectives.choice import ObjectiveChoice
from lookalike.report.curves import CURVES_FILE
from lookalike.report.grid import render_grid
from lookalike.report.scores import SCORES_FILE, draw_scores
from lookalike.search import QueryResult
from lookalike.session import Session
from lookalike.training import Callbacks, StepProgress, TrainSettings, train_folder
from lookalike.views import recipe_named

GRID_QUERIES = 6
GRID_HITS = 8
MAP_SAMPLE = 1000
"""Images on the report's map: t-SNE lays out a thousand in seconds on two cores."""


@dataclass(frozen=True)
class Recipe:
    """How the demo trains on a kind of data, and the words that tell the reader so."""

    objective: str
    views: str
    lr: float
    batch_size: int
    description: str
    backbone: str = "resnet18"
    weights: str | None = None
    """Published weights training starts from ("imagenet"), or None for random ones. The baseline is that start as
    it is: the untrained network, or the frozen pretrained one."""
    trainable_from: str | None = None
    """With `weights`, the first stage training changes (None: the backbone's choice); earlier ones stay frozen."""
    image_size: int = 64

    @property
    def baseline(self) -> str:
        """The baseline encoder's name in the demo's lines and report."""
        return "untrained" if self.weights is None else "pretrained"


DEFAULT_RECIPE = Recipe("triplet", "seed", 3e-4, 64, "triplets with semi-hard mining on the seed's views")
RECIPES = {
    # The offline digits (the folder lookalike.data.public_sets makes): mirrored or half-cropped digits are other
    # digits, so the seed's views taught the encoder to confuse them; SimCLR with the strokes views wins instead.
    "sklearn_digits": Recipe("simclr", "strokes", 1e-3, 128, "SimCLR on views that keep a digit a digit (no mirror "
                                                              "images, crops of 60 % or more)"),
    # TensorFlow's flower photos: ImageNet's features already tell these flowers apart, and label-free training of
    # the last stages moved the ranking back; SimCLR on the last layer alone adapts them to the collection and came
    # out ahead of the same network frozen on both scores (BENCHMARKS.md, the demo on flower photos).
    "flower_photos": Recipe("simclr", "simclr", 3e-3, 64, "SimCLR on the last layer of ImageNet's EfficientNet-Lite0, "
                                                          "the rest frozen", backbone="efficientnet-lite0",
                            weights="imagenet", trainable_from="head", image_size=224),
}


def recipe_for(data_dir: Path) -> Recipe:
    """The recipe for a public set the demo knows (by the folder its loader makes), else the default."""
    return RECIPES.get(data_dir.name, DEFAULT_RECIPE)


@dataclass
class Evaluation:
    """One encoder's gallery over the demo folder, every image searched against the rest, and the scores."""

    name: str
    gallery: Path
    index: IndexReport
    results: list[QueryResult]
    query_labels: list[str | None]
    scores: RetrievalScores
    """Over every image as a query."""
    unseen: RetrievalScores | None = None
    """Over the images that training held out (never saw, even without labels), when training ran."""

    def line(self, backbone: str, chance: float) -> str:
        """The encoder's result in one line, the form the demo ends with."""
        return (f"{self.name} {backbone}: {self.index.found} images indexed ({self.index.embedded} embedded) in "
                f"{self.index.seconds:.1f} s; {self.scores.queries} queries: precision@1 "
                f"{self.scores.precision_at_1:.3f} (chance {chance:.3f}), mAP@R {self.scores.map_at_r:.3f}")

    def scores_on(self, queries: set[Path], label_counts: Counter[str | None]) -> RetrievalScores:
        """The scores over the results whose query is in `queries`."""
        chosen = [(result, label) for result, label in zip(self.results, self.query_labels)
                  if Path(result.query) in queries]
        return _scores([result for result, _ in chosen], [label for _, label in chosen], label_counts)


def _scores(results: list[QueryResult], labels: list[str | None], label_counts: Counter[str | None]) -> RetrievalScores:
    return retrieval_scores(labels, [[hit.image.label for hit in result.hits] for result in results],
                            [label_counts[label] - 1 for label in labels])  # a query is excluded from its own hits


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
    backbone: str

    @property
    def best(self) -> Evaluation:
        return self.evaluations[-1]

    def summary(self) -> list[str]:
        """The demo's last words: one line per encoder, lookalike's trained encoder last, then the report."""
        lines = [evaluation.line(self.backbone, self.chance_precision_at_1) for evaluation in self.evaluations]
        return [*lines, f"report: {self.report}"]


HELD_OUT_FILE = "held-out.txt"
"""The images the demo's training held out, one path a line: the report scores them apart."""
GALLERY = "gallery"
"""The demo's gallery of its last encoder (the trained one): `lookalike serve --gallery demo-output/gallery`."""

_EMBED_PER_SECOND = 150
_DECODE_PER_SECOND = 800
_TRAIN_PER_SECOND = 40
_REPORT_SECONDS = 15
"""First guesses of the stages' pace on two cores (the map's layout dominates the report); the job refines them."""

_DECODING, _TRAINING, _TRAINED, _REPORT = (
    "decoding the training images", "training", "indexing with the trained network", "drawing the report")


def run_demo(
    out_dir: str | Path = "demo-output",
    data: str | Path | None = None,
    *,
    image_size: int | None = None,
    epochs: int = 50,
    minutes: float | None = 1.5,
    seed: int = 0,
    precision: str = "auto",
    say: Callable[[str], None] = print,
    on_job: Callable[[JobStatus], None] | None = None,
) -> DemoResult:
    """Train a model on `data` (or a public set) without labels, index it, search every image, write the report.

    Training runs for `minutes` (None: no budget), at most `epochs`, with the recipe that suits the data
    (`recipe_for`), at its image size unless `image_size` is given. `out_dir` belongs to the demo: a model or
    gallery in it that a rerun cannot reuse is rebuilt. `epochs=0` skips training and shows only the baseline (the
    recipe's start, not trained here). `precision` is training's and embedding's (auto: bf16 where the CPU has it
    natively). `on_job` hears the whole job's progress, as one fraction and an estimate of the time left; the
    result's `summary()` gives the lines to end with.
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
    labels = [label_for(path, data_dir) for path in images]
    label_counts = Counter(labels)
    chance = sum((count / len(labels)) ** 2 for count in label_counts.values())
    settings = TrainSettings(epochs=max(epochs, 1), minutes=minutes, batch_size=recipe.batch_size, lr=recipe.lr,
                             seed=seed, precision=precision)
    embedding = EmbedSettings(precision=precision)
    baseline_stage = f"indexing with the {recipe.baseline} network"
    job = JobProgress(_stage_estimates(len(images), baseline_stage, settings if epochs else None), on_job)

    def evaluate(name: str, encoder: Encoder, gallery: Path, stage: str) -> Evaluation:
        """Index the folder, then search every image against the rest: five times the queries of a held-out
        split, so that a difference of a few queries between two encoders is not read as a result."""
        _discard_if_other_model(gallery, encoder)
        on_plan, on_progress = job.counter(stage)
        with Session(gallery, encoder, settings=embedding) as session:
            index = session.index(data_dir, on_plan=on_plan, on_progress=on_progress)
            searched = session.search_all(images, k=max(label_counts.values()), exclude_self=True)
        job.finish(stage)
        query_labels = [label_for(Path(result.query), data_dir) for result in searched.results]
        return Evaluation(name, gallery, index, searched.results, query_labels,
                          _scores(searched.results, query_labels, label_counts))

    # The baseline is the trained encoder's network before training (random or pretrained weights), read at the layer
    # it will search with. It is indexed first: the same network embeds at the same pace trained, so its time tells
    # the job's ETA.
    config = _encoder_config(recipe, image_size)
    model_dir = out_dir / "model"
    baseline = evaluate(recipe.baseline, create_encoder(config, weights=recipe.weights, seed=seed),
                        out_dir / (f"{GALLERY}-{recipe.baseline}" if epochs else GALLERY), baseline_stage)
    evaluations, held_out = [baseline], None
    if epochs:
        if baseline.index.embedded:
            job.estimate(_TRAINED, job.took(baseline_stage) * len(images) / baseline.index.embedded)
        trained, held_out = _trained_model(data_dir, out_dir, config, recipe, settings, say, job)
        evaluations.append(evaluate("trained", trained, out_dir / GALLERY, _TRAINED))
        if held_out:
            for evaluation in evaluations:
                evaluation.unseen = evaluation.scores_on(held_out, label_counts)

    job.advance(_REPORT, 0.0)
    best = evaluations[-1]
    figures = DemoFigures(
        grid=_grid(best, data_dir, out_dir / "search-grid.png", among=held_out),
        scores=draw_scores([(e.name, e.scores.precision_at_1, e.scores.map_at_r) for e in evaluations], chance,
                           out_dir / SCORES_FILE),
        map=_map(best.gallery, out_dir / "map.png", embedding),
        curves=model_dir / CURVES_FILE if epochs else None,
    )
    run = DemoRun(data_dir, description, config, recipe, settings, model_dir if epochs else None, evaluations, chance,
                  seconds=time.perf_counter() - started)
    report = write_demo_report(out_dir / "report.html", run, figures)
    job.finish(_REPORT)
    return DemoResult(data_dir, description, model_dir, report, figures.grid, evaluations, chance, config.backbone)


def _encoder_config(recipe: Recipe, image_size: int | None) -> EncoderConfig:
    """The architecture training builds for `recipe` (train_folder's choices), so the baseline is the same network."""
    objective = ObjectiveChoice(recipe.objective)
    return EncoderConfig.for_backbone(
        recipe.backbone, image_size=image_size or recipe.image_size, head=objective.default_head,
        embed_from=objective.default_embed_from, pair_head=objective.encoder_pair_head,
        trainable_from=(recipe.trainable_from or backbone_spec(recipe.backbone).pretrained_trainable_from
                        if recipe.weights else None))


def _stage_estimates(images: int, baseline_stage: str, settings: TrainSettings | None) -> dict[str, float]:
    """Each stage's expected seconds, in the order the demo runs them; no training stages without `settings`."""
    embed = images / _EMBED_PER_SECOND
    if settings is None:
        return {baseline_stage: embed, _REPORT: _REPORT_SECONDS}
    epochs = settings.epochs * images / _TRAIN_PER_SECOND
    training = min(settings.minutes * 60, epochs) if settings.minutes else epochs
    return {baseline_stage: embed, _DECODING: images / _DECODE_PER_SECOND, _TRAINING: training, _TRAINED: embed,
            _REPORT: _REPORT_SECONDS}


def _training_callbacks(job: JobProgress, settings: TrainSettings, say: Callable[[str], None]) -> Callbacks:
    """Training's progress as the job's: the share of the time budget spent, or of the epochs when that is more."""
    on_plan, on_decoded = job.counter(_DECODING)
    budget = settings.minutes * 60 if settings.minutes else None

    def on_step(step: StepProgress) -> None:
        done = (step.epoch - 1 + step.step / step.steps) / step.epochs
        if budget and step.seconds_left is not None:
            done = max(done, 1 - step.seconds_left / budget)
        job.advance(_TRAINING, done)

    return Callbacks(say=say, on_plan=on_plan, on_decoded=on_decoded, on_progress=on_step)


def _trained_model(data_dir: Path, out_dir: Path, config: EncoderConfig, recipe: Recipe, settings: TrainSettings,
                   say: Callable[[str], None], job: JobProgress) -> tuple[Encoder, set[Path] | None]:
    """The model an earlier demo run trained with the same data, recipe and settings, or a newly trained one; with
    the images its training held out (None if an earlier run did not record them)."""
    model_dir, held_out_file = out_dir / "model", out_dir / HELD_OUT_FILE
    wanted = {"epochs": settings.epochs, "minutes": settings.minutes, "seed": settings.seed, "lr": settings.lr,
              "batch_size": settings.batch_size}
    if (model_dir / CONFIG_FILE).is_file():
        earlier = load_model(model_dir)
        training = earlier.origin.get("training", {})
        done = {key: training.get("settings", {}).get(key) for key in wanted}
        objective = ObjectiveChoice(recipe.objective)
        views = [view.to_dict() for view in objective.views(recipe_named(recipe.views))]
        if (earlier.config == config and training.get("folder") == str(data_dir) and done == wanted
                and training.get("objective") == recipe.objective and training.get("views") == views
                and earlier.origin.get("init") == (recipe.weights or "random")):
            say(f"model: reusing {model_dir}, trained by an earlier demo run with the same settings")
            job.finish(_DECODING)
            job.finish(_TRAINING)
            held_out = held_out_file.read_text().splitlines() if held_out_file.is_file() else None
            return earlier, {Path(line) for line in held_out} if held_out else None
    shutil.rmtree(model_dir, ignore_errors=True)  # the demo's own folder, from a run with other settings
    budget = f"{settings.minutes:g} minutes (at most {settings.epochs} epochs)" if settings.minutes \
        else f"{settings.epochs} epochs"
    say(f"training {config.backbone} at {config.image_size} px for {budget} without labels: {recipe.description}; "
        f"into {model_dir}")
    run = train_folder(data_dir, model_dir, objective=ObjectiveChoice(recipe.objective), settings=settings,
                       backbone=config.backbone, weights=recipe.weights, trainable_from=config.trainable_from,
                       image_size=config.image_size, head=config.head, embed_from=config.embed_from, views=recipe.views,
                       callbacks=_training_callbacks(job, settings, say))
    write_bytes_atomic(held_out_file, "".join(f"{path}\n" for path in run.valid_paths).encode())
    job.finish(_DECODING)
    job.finish(_TRAINING)
    return load_model(model_dir), set(run.valid_paths)


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


def _grid(best: Evaluation, data_dir: Path, out: Path, among: set[Path] | None) -> Path:
    """Look-alikes of a few queries (from `among` when given), one per folder first, the right hits framed green."""
    pairs = [(result, label) for result, label in zip(best.results, best.query_labels)
             if among is None or Path(result.query) in among]
    shown = _one_query_per_label([result for result, _ in pairs], [label for _, label in pairs])[:GRID_QUERIES]
    return render_grid([QueryResult(result.query, result.hits[:GRID_HITS]) for result in shown], out,
                       query_labels=[label_for(Path(result.query), data_dir) for result in shown])


def _map(gallery: Path, out: Path, settings: EmbedSettings) -> Path:
    """The gallery laid out in two dimensions, coloured by folder; a sample keeps the layout to seconds."""
    with Session(gallery, settings=settings) as session:
        session.map(out, colour_by="label", sample=MAP_SAMPLE)
    return out
