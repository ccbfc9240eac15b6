"""The demo's page, written for a newcomer: what ran on which data, who won (in a sentence and a chart), look-alikes
with the right ones marked, how training went, a map of the collection, and the commands to do the same on one's own
folder."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from lookalike import __version__
from lookalike.data.public_sets import source_of
from lookalike.diagnostics import verdict
from lookalike.models import EncoderConfig
from lookalike.report.html import Section, write_report
from lookalike.training import TrainSettings
from lookalike.training.history import LOG_FILE, read_log

if TYPE_CHECKING:
    from lookalike.demo import Evaluation, Recipe

YOUR_PHOTOS, YOUR_MODEL, YOUR_GALLERY = "PHOTOS", "my-model", "my-gallery"


@dataclass(frozen=True)
class DemoRun:
    """What the demo did, as the page states it."""

    data_dir: Path
    description: str
    config: EncoderConfig
    recipe: Recipe
    settings: TrainSettings
    model_dir: Path | None
    """None when training was skipped (--epochs 0)."""
    evaluations: list[Evaluation]
    """The untrained baseline first, the trained encoder last."""
    chance: float
    seconds: float


@dataclass(frozen=True)
class DemoFigures:
    grid: Path
    scores: Path
    map: Path | None
    curves: Path | None


def own_folder_commands(run: DemoRun) -> list[list[str]]:
    """The demo's job on the reader's own folder: train with the same recipe, index, search, serve."""
    recipe, settings, config = run.recipe, run.settings, run.config
    train = ["lookalike", "train", YOUR_PHOTOS, "--out", YOUR_MODEL, "--objective", recipe.objective,
             "--views", recipe.views, "--backbone", config.backbone, "--image-size", str(config.image_size),
             "--batch-size", str(recipe.batch_size), "--lr", f"{recipe.lr:g}", "--epochs", str(settings.epochs)]
    if recipe.weights:
        train += ["--weights", recipe.weights, "--trainable-from", str(config.trainable_from)]
    if settings.minutes:
        train += ["--minutes", f"{settings.minutes:g}"]
    return [train,
            ["lookalike", "index", YOUR_PHOTOS, "--gallery", YOUR_GALLERY, "--model", YOUR_MODEL],
            ["lookalike", "search", "QUERY.jpg", "--gallery", YOUR_GALLERY],
            ["lookalike", "serve", "--gallery", YOUR_GALLERY]]


def headline(evaluations: list[Evaluation], weights: str | None = None) -> str:
    """The result in one sentence: both scores of both encoders, and which one won. `weights`: the published weights
    both started from, None for random ones."""
    last = evaluations[-1].scores
    if len(evaluations) < 2:
        return (f"Only the {evaluations[0].name} network ran (--epochs 0): precision@1 {last.precision_at_1:.3f}, "
                f"mAP@R {last.map_at_r:.3f}.")
    first = evaluations[0].scores
    baseline = "untrained" if weights is None else f"with its {_weights_name(weights)} weights, frozen"
    return (f"lookalike's trained encoder finds a right look-alike first for {last.precision_at_1:.1%} of the images, "
            f"against {first.precision_at_1:.1%} for the same network {baseline}, and its mAP@R is "
            f"{last.map_at_r:.3f} against {first.map_at_r:.3f}: "
            f"{_outcome(last.precision_at_1 - first.precision_at_1, last.map_at_r - first.map_at_r)}.")


def _outcome(precision_gain: float, map_gain: float) -> str:
    def word(gain: float) -> str:
        return "ahead" if gain > 0 else "behind" if gain < 0 else "level"

    if word(precision_gain) == word(map_gain):
        return f"{word(precision_gain)} on both"
    return f"{word(precision_gain)} on precision@1 and {word(map_gain)} on mAP@R"


def shell_lines(command: list[str], width: int = 100) -> list[str]:
    """A command as a reader copies it: options continued onto new lines (with a backslash) past `width`."""
    lines, line = [], ""
    for word in command:
        starts_option = word.startswith("--")
        if line and starts_option and len(line) + 1 + len(word) + 12 > width:
            lines.append(line + " \\")
            line = "   "
        line = f"{line} {word}" if line else word
    return [*lines, line]


def write_demo_report(path: Path, run: DemoRun, figures: DemoFigures) -> Path:
    return write_report(path, "lookalike demo", _sections(run, figures, path.parent))


def _sections(run: DemoRun, figures: DemoFigures, out_dir: Path) -> list[Section]:
    best = run.evaluations[-1]
    trained = run.model_dir is not None
    source = source_of(run.data_dir)
    return [
        Section("Result", notes=[headline(run.evaluations, run.recipe.weights)], figures=[figures.scores]),
        Section("What ran", facts=[
            ("data", f"{run.data_dir}: {run.description}"),
            ("source and licence", source or "your folder; its sub-folder names were read only to score"),
            ("images found", f"{best.index.found:,}"),
            ("model", f"{run.config.backbone}, {run.config.image_size} px, {run.config.embedding_dim}-d embedding"),
            ("training", f"{run.recipe.description}, without labels" if trained else "none (--epochs 0)"),
            ("trained model folder", str(run.model_dir) if trained else "no training (--epochs 0)"),
            *[(f"gallery ({e.name})", f"{e.gallery} (model id {e.index.model_id})") for e in run.evaluations],
            ("total time", f"{run.seconds:.0f} s"),
            ("lookalike", __version__),
        ]),
        Section("Retrieval quality", table=_score_table(run), notes=[
            f"Every one of the {best.scores.queries:,} images is a query, searched against all the others; a hit "
            "counts as correct when it comes from the same folder. The folder names were read only for this "
            "scoring.",
            _baseline_note(run.recipe.weights) + (
                " The trained one started from the same weights and learned from the folder without labels (a "
                "positive is an augmented view of the anchor, negatives are other images). "
                + (f"Training held out {best.unseen.queries:,} of the images; the last two columns score only those "
                   "queries, which it never saw." if best.unseen else "") if trained else ""),
        ]),
        Section("Look-alikes", figures=[figures.grid], notes=[
            f"From the {best.name} encoder. Left: the query. Then its nearest gallery images with cosine "
            "similarity; green frames share the query's folder, red ones do not."]),
        *([Section("Training", figures=[figures.curves], notes=[
            "Loss per epoch, and the share of validation triplets (held-out images, fixed views) whose positive "
            "is nearer than their negative. Below, the label-free diagnostics on the same views: alignment, "
            "uniformity and effective rank.", *_diagnostics(run.model_dir)])]
          if figures.curves and run.model_dir else []),
        *([Section("Map of the collection", figures=[figures.map], notes=[
            f"The {best.name} encoder's gallery laid out in two dimensions: look-alikes lie near each other. "
            "Colours are the folders, for reading only."])] if figures.map else []),
        Section("Do the same on your own folder", notes=[
            f"{YOUR_PHOTOS} is a folder of images, searched recursively; no labels are needed. Training stops at "
            "--minutes or --epochs, whichever comes first."],
            code=[*(line for command in own_folder_commands(run) for line in shell_lines(command)),
                  "# and this demo's own gallery, in the browser:",
                  f"lookalike serve --gallery {_shortest(best.gallery)}"]),
        Section(f"Skipped files ({len(best.index.skipped)})",
                items=[str(bad) for bad in best.index.skipped] or ["none"]),
    ]


def _weights_name(weights: str) -> str:
    return "ImageNet" if weights == "imagenet" else weights


def _baseline_note(weights: str | None) -> str:
    """What the baseline encoder is, and why it is the honest one to beat."""
    if weights is None:
        return ("The untrained encoder is the network with its random initial weights: what random convolutional "
                "features alone give.")
    return (f"The pretrained encoder is the network with its {_weights_name(weights)} weights, used as they are; "
            "lookalike index starts from it when it is given no model.")


def _score_table(run: DemoRun) -> tuple[list[str], list[list[str]]]:
    unseen = [e.unseen for e in run.evaluations if e.unseen is not None]
    header = ["encoder", "precision@1", "R-precision", "mAP@R"]
    if unseen:
        header += [f"precision@1, {unseen[0].queries} unseen", f"mAP@R, {unseen[0].queries} unseen"]
    rows = []
    for e in run.evaluations:
        row = [e.name, f"{e.scores.precision_at_1:.3f}", f"{e.scores.r_precision:.3f}", f"{e.scores.map_at_r:.3f}"]
        if unseen and e.unseen is not None:
            row += [f"{e.unseen.precision_at_1:.3f}", f"{e.unseen.map_at_r:.3f}"]
        rows.append(row)
    return header, [*rows, ["chance", f"{run.chance:.3f}", "", ""]]


def _shortest(path: Path) -> str:
    """`path` relative to the working folder when it lies under it, as the reader will type it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _diagnostics(model_dir: Path) -> list[str]:
    """The diagnostics' one-sentence verdict, from the run's first and last logged epochs."""
    rows = read_log(model_dir / LOG_FILE)
    sentence = verdict(rows[0], rows[-1]) if rows else None
    return [sentence] if sentence else []
