"""The `lookalike` command: argument parsing and printing around the Python API, nothing more.

Results go to stdout in a form that greps and parses well; progress, warnings and errors go to stderr.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeRemainingColumn

from lookalike.data import BadImage
from lookalike.embed import EmbedSettings
from lookalike.errors import LookalikeError
from lookalike.gallery import INDEX_KINDS
from lookalike.runtime import PRECISIONS
from lookalike.train import Callbacks, StepProgress

app = typer.Typer(
    help="Learn what makes unlabeled images alike, then search, verify and recognise with it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
stderr = Console(stderr=True)  # for progress bars only; messages go through _say, unwrapped


def _say(line: str) -> None:
    typer.echo(line, err=True)

GalleryOption = Annotated[Path, typer.Option("--gallery", "-g", help="Gallery folder.")]
ModelOption = Annotated[
    Optional[Path], typer.Option("--model", "-m", help="Model folder (default: the copy kept in the gallery).")
]
BatchOption = Annotated[int, typer.Option(min=1, help="Images per batch.")]
WorkersOption = Annotated[
    Optional[int], typer.Option(min=0, help="Decoding processes (default: up to 4; 0 decodes in this process).")
]
DeviceOption = Annotated[Optional[str], typer.Option(help="cpu, cuda or cuda:N (default: CUDA when present).")]
PrecisionOption = Annotated[str, typer.Option(help=f"{'|'.join(PRECISIONS)}; auto uses bf16 where it is fast.")]


class _Bars:
    """Progress bars on stderr (shown only when it is a terminal), handed to the API as plain callbacks."""

    def __init__(self, bar: Progress) -> None:
        self.bar = bar

    def counter(self, description: str) -> tuple[Callable[[int], None], Callable[[int], None]]:
        """(on_plan, on_progress) for an API call that announces a total and then reports work done; each new plan
        restarts the bar and brings it to the front."""
        task = self.bar.add_task(description, total=None, status="")

        def on_plan(total: int) -> None:
            for other in self.bar.task_ids:
                self.bar.update(other, visible=other == task)
            self.bar.reset(task, total=total)

        return on_plan, (lambda done: self.bar.advance(task, done))

    def training(self) -> Callbacks:
        """Callbacks for a training run: a decoding bar, then one bar per epoch with the loss and images/s."""
        on_plan, on_decoded = self.counter("decoding")
        epochs: dict[int, TaskID] = {}

        def on_step(step: StepProgress) -> None:
            if step.epoch not in epochs:
                for task in self.bar.task_ids:
                    self.bar.update(task, visible=False)
                epochs[step.epoch] = self.bar.add_task(f"epoch {step.epoch}/{step.epochs}", total=step.steps,
                                                       status="")
            self.bar.update(epochs[step.epoch], completed=step.step,
                            status=f"loss {step.loss:.4f}  {step.images_per_second:.0f} img/s")

        return Callbacks(say=_say, on_plan=on_plan, on_decoded=on_decoded, on_progress=on_step,
                         on_epoch=lambda row: _say(_epoch_line(row)))


@contextlib.contextmanager
def _progress() -> Iterator[_Bars]:
    """One live display for the whole command (rich allows only one at a time)."""
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[status]}"),
        TimeRemainingColumn(), console=stderr, transient=True, disable=not stderr.is_terminal,
    ) as bar:
        yield _Bars(bar)


def _warn_skipped(skipped: list[BadImage]) -> None:
    for bad in skipped:
        _say(f"warning: skipped {bad.path}: {bad.reason}")


def _widths(head: str) -> tuple[int, ...]:
    try:
        return tuple(int(width) for width in head.split(","))
    except ValueError:
        raise typer.BadParameter("comma-separated whole numbers, e.g. 512,256,256", param_hint="--head") from None


def _settings(batch_size: int, workers: int | None, device: str | None, precision: str) -> EmbedSettings:
    return EmbedSettings(batch_size=batch_size, workers=workers, device=device, precision=precision)


@app.command("create-model")
def create_model(
    out: Annotated[Path, typer.Argument(help="Model folder to write (model.safetensors + config.json).")],
    backbone: Annotated[str, typer.Option(help="resnet18, resnet34 or resnet50.")] = "resnet18",
    weights: Annotated[
        Optional[str],
        typer.Option(help="imagenet (torchvision's published weights, needs the network) or a local "
                          ".safetensors ResNet state dict; default: random init."),
    ] = None,
    image_size: Annotated[int, typer.Option(min=16, max=1024, help="Input size in pixels.")] = 128,
    head: Annotated[str, typer.Option(help="Head widths, comma-separated; the last is the embedding size.")] = (
        "512,256,256"
    ),
    trainable_from: Annotated[
        Optional[str], typer.Option(help="First stage to train (stem, layer1..layer4); earlier ones stay frozen.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed for the random initialisation.")] = 0,
) -> None:
    """Write a new encoder to OUT, for `index --model OUT` (and, later, training)."""
    from lookalike.models import EncoderConfig, create_encoder, save_model

    widths = _widths(head)
    config = EncoderConfig(backbone=backbone, image_size=image_size, head=widths, trainable_from=trainable_from)
    encoder = create_encoder(config, weights=weights, seed=seed)
    typer.echo(f"model {save_model(encoder, out)}: {backbone} ({encoder.origin['init']} weights), {image_size} px, "
               f"{config.embedding_dim}-d embedding; saved to {out}")


@app.command()
def train(
    folder: Annotated[Path, typer.Argument(help="Folder of unlabeled images, searched recursively; or an STL-10 "
                                                "binary folder (its unlabeled split) or a CIFAR-10 python folder "
                                                "(its train split). Labels are never read.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Model folder to write; it also holds the checkpoint, "
                                                           "train_log.csv and curves.png.")] = Path("model"),
    objective: Annotated[str, typer.Option(help="triplet (margin loss on mined triplets), pair (same/different "
                                                "head with binary cross-entropy) or simclr (NT-Xent on two "
                                                "augmented views).")] = "triplet",
    mining: Annotated[str, typer.Option(help="Triplet mining in the batch: random, hard or semihard.")] = "semihard",
    margin: Annotated[float, typer.Option(min=0, help="Triplet margin on squared L2 between unit vectors "
                                                      "(distances lie in 0..4; FaceNet's 0.2).")] = 0.2,
    pair_head: Annotated[str, typer.Option(help="Pair head features: l1 (|f1-f2|) or chi2.")] = "l1",
    temperature: Annotated[float, typer.Option(help="NT-Xent temperature (simclr).")] = 0.5,
    views: Annotated[
        Optional[str], typer.Option(help="Augmentation: seed (centre half crop, flip, contrast 0.2-1.8) or simclr "
                                         "(crop, flip, colour jitter, greyscale); default: simclr for the simclr "
                                         "objective, seed otherwise.")
    ] = None,
    head: Annotated[
        Optional[str], typer.Option(help="Head widths, comma-separated (default 512,256,256; simclr: a 512,128 "
                                         "projection).")
    ] = None,
    embed_from: Annotated[
        Optional[str], typer.Option(help="Layer that search and evaluation read: head or backbone (default: "
                                         "backbone for simclr, whose head only serves the loss; head otherwise).")
    ] = None,
    backbone: Annotated[str, typer.Option(help="resnet18, resnet34 or resnet50.")] = "resnet18",
    weights: Annotated[
        Optional[str], typer.Option(help="imagenet or a local .safetensors ResNet state dict; default: random init.")
    ] = None,
    trainable_from: Annotated[
        Optional[str], typer.Option(help="First stage to train; default: layer4 with --weights, else all.")
    ] = None,
    image_size: Annotated[int, typer.Option(min=16, max=1024, help="Model input size in pixels.")] = 128,
    epochs: Annotated[
        Optional[int], typer.Option(min=1, help="Epochs in all (default 10; with --resume, the run's own).")
    ] = None,
    batch_size: Annotated[
        Optional[int], typer.Option(min=2, help="Images per batch, each giving two views (default 8; simclr 256).")
    ] = None,
    optimizer: Annotated[Optional[str], typer.Option(help="adam, adamw or sgd (default adam; simclr adamw).")] = None,
    lr: Annotated[Optional[float], typer.Option(min=0, help="Peak learning rate (default 1e-4; simclr 1e-3).")] = None,
    weight_decay: Annotated[Optional[float], typer.Option(min=0, help="Default 0; simclr 1e-6.")] = None,
    schedule: Annotated[str, typer.Option(help="cosine or constant, after the warm-up.")] = "cosine",
    warmup_epochs: Annotated[
        Optional[float], typer.Option(min=0, help="Linear warm-up length in epochs (default 0; simclr 1).")
    ] = None,
    valid_fraction: Annotated[float, typer.Option(min=0.01, max=0.99, help="Share held out for validation.")] = 0.2,
    seed: Annotated[int, typer.Option(help="Seed for initialisation, split, batches and views.")] = 0,
    resume: Annotated[bool, typer.Option(help="Continue the run in --out from its last checkpoint.")] = False,
    workers: WorkersOption = None,
    device: DeviceOption = None,
    precision: PrecisionOption = "auto",
) -> None:
    """Train an encoder on FOLDER without labels and write it to --out, ready for `index --model`.

    Under torchrun (torchrun --nproc-per-node N -m lookalike.cli train ...) the processes share each batch and
    gather SimCLR's negatives across them; --batch-size is then the global batch.
    """
    from lookalike.objectives.choice import ObjectiveChoice
    from lookalike.train import TrainSettings, resume_training, train_folder

    widths = _widths(head) if head else None
    choice = ObjectiveChoice(objective, mining=mining, margin=margin, pair_head=pair_head, temperature=temperature)
    with _progress() as bars:
        callbacks = bars.training()
        if resume:
            run = resume_training(out, epochs=epochs, callbacks=callbacks)
        else:
            run = train_folder(
                folder, out,
                objective=choice,
                settings=TrainSettings.with_defaults(
                    choice.default_training, epochs=epochs, batch_size=batch_size, optimizer=optimizer, lr=lr,
                    weight_decay=weight_decay, schedule=schedule, warmup_epochs=warmup_epochs, seed=seed,
                    precision=precision, device=device, workers=workers,
                ),
                backbone=backbone, weights=weights, trainable_from=trainable_from, image_size=image_size,
                head=widths, embed_from=embed_from, views=views, valid_fraction=valid_fraction,
                callbacks=callbacks,
            )
    if not run.reports:
        return
    _warn_skipped(run.skipped)
    last = run.report.history[-1]
    accuracy = last.get("valid_triplet_accuracy")
    typer.echo(f"model {run.report.model_id}: {len(run.report.history)} epochs, final loss {last['train_loss']:.4f}"
               + (f", validation triplet accuracy {accuracy:.3f}" if accuracy is not None else "")
               + f"; saved to {run.report.model_dir}")


def _epoch_line(row: dict) -> str:
    """The epoch's loss, then whatever the objective and validation measured, then its speed."""
    fixed = ("epoch", "train_loss", "lr", "images_per_second", "seconds")
    extras = "".join(f", {name} {value:.3f}" for name, value in row.items() if name not in fixed and value is not None)
    return (f"epoch {row['epoch']}: loss {row['train_loss']:.4f}{extras}, "
            f"{row['images_per_second']:.0f} img/s, {row['seconds']:.1f} s")


@app.command()
def index(
    folder: Annotated[Path, typer.Argument(help="Folder of images, searched recursively.")],
    gallery: GalleryOption,
    model: ModelOption = None,
    index_kind: Annotated[
        Optional[str],
        typer.Option("--index", help=f"{'|'.join(INDEX_KINDS)}: exact (flat) or approximate; default flat. "
                                     "Naming another kind for an existing gallery rebuilds its index."),
    ] = None,
    prune: Annotated[bool, typer.Option(help="Remove gallery entries whose files are gone from FOLDER.")] = False,
    batch_size: BatchOption = 64,
    workers: WorkersOption = None,
    device: DeviceOption = None,
    precision: PrecisionOption = "auto",
) -> None:
    """Embed the images under FOLDER into a gallery (created on first use). Only new or changed files are embedded."""
    from lookalike.indexing import index_folder

    if index_kind is not None and index_kind not in INDEX_KINDS:
        raise typer.BadParameter(f"choose one of {', '.join(INDEX_KINDS)}", param_hint="--index")
    with _progress() as bars:
        on_plan, on_progress = bars.counter("embedding")
        report = index_folder(
            folder, gallery, model=model, index=index_kind, prune=prune,
            settings=_settings(batch_size, workers, device, precision), on_plan=on_plan, on_progress=on_progress,
        )
    _warn_skipped(report.skipped)
    missing = ""
    if report.missing:
        missing = f", {report.removed} removed" if prune else f", {report.missing} gone from disk (use --prune)"
    rate = f" ({report.embedded / report.seconds:.0f} img/s)" if report.embedded and report.seconds else ""
    typer.echo(
        f"{report.found} images found: {report.added} added, {report.updated} updated, {report.unchanged} unchanged, "
        f"{len(report.skipped)} skipped{missing} in {report.seconds:.1f} s{rate}; gallery {report.gallery}"
    )


@app.command()
def search(
    queries: Annotated[list[Path], typer.Argument(help="Query images, or folders of them.")],
    gallery: GalleryOption,
    k: Annotated[int, typer.Option("-k", "--top", min=1, help="How many look-alikes per query.")] = 10,
    model: ModelOption = None,
    exclude_self: Annotated[bool, typer.Option(help="Leave a query out of its own results.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    grid: Annotated[Optional[Path], typer.Option(help="Also draw the results as a PNG grid here.")] = None,
    batch_size: BatchOption = 64,
    workers: WorkersOption = None,
    device: DeviceOption = None,
    precision: PrecisionOption = "auto",
) -> None:
    """Find the K gallery images most like each query (cosine similarity, 1 = identical embedding)."""
    from lookalike.search import search_images

    with _progress() as bars:
        on_plan, on_progress = bars.counter("embedding queries")
        report = search_images(
            queries, gallery, k=k, model=model, exclude_self=exclude_self,
            settings=_settings(batch_size, workers, device, precision), on_plan=on_plan, on_progress=on_progress,
        )
    _warn_skipped(report.skipped)
    if as_json:
        typer.echo(json.dumps({
            "results": [
                {"query": str(result.query), "hits": [
                    {"rank": rank, "score": round(hit.score, 6), "path": hit.image.path, "label": hit.image.label}
                    for rank, hit in enumerate(result.hits, start=1)
                ]}
                for result in report.results
            ],
            "skipped": [{"path": str(bad.path), "reason": bad.reason} for bad in report.skipped],
        }, indent=2))
    else:
        for result in report.results:
            typer.echo(f"# query {result.query}")
            typer.echo("rank\tscore\tpath")
            for rank, hit in enumerate(result.hits, start=1):
                typer.echo(f"{rank}\t{hit.score:.4f}\t{hit.image.path}")
    if grid is not None and report.results:
        from lookalike.report.grid import render_grid

        _say(f"grid: {render_grid(report.results, grid)}")
    if not report.results:
        raise LookalikeError("no query image could be read")


@app.command()
def remove(
    paths: Annotated[list[Path], typer.Argument(help="Images, or folders whose images should all go.")],
    gallery: GalleryOption,
) -> None:
    """Remove images from a gallery (the files on disk are not touched)."""
    from lookalike.indexing import remove_from_gallery

    removed = remove_from_gallery(paths, gallery)
    typer.echo(f"removed {removed} image{'s' * (removed != 1)} from {gallery}")


@app.command()
def info(gallery: GalleryOption) -> None:
    """Show what a gallery holds and which model made it."""
    from lookalike.workspace import describe_gallery

    for key, value in describe_gallery(gallery).items():
        typer.echo(f"{key}: {value}")


@app.command()
def demo(
    data: Annotated[
        Optional[Path], typer.Option(help="Labelled image folder to use (default: a public set, see below).")
    ] = None,
    out: Annotated[Path, typer.Option(help="The demo's own folder: model, galleries, grid and report; what a rerun "
                                           "cannot reuse is rebuilt.")] = Path("demo-output"),
    image_size: Annotated[int, typer.Option(min=16, max=1024, help="Model input size in pixels.")] = 64,
    epochs: Annotated[int, typer.Option(min=0, help="Label-free training epochs; 0 shows only the untrained "
                                                    "baseline.")] = 8,
) -> None:
    """Run the main job: train a model without labels, index a labelled folder with it and with an untrained
    baseline, search held-out images, and write an HTML report comparing the two.

    Without --data it downloads TensorFlow's flower photos (cached), or offline uses scikit-learn's handwritten
    digits, and says which it used.
    """
    from lookalike.demo import run_demo

    with _progress() as bars:
        on_plan, on_progress = bars.counter("embedding")
        result = run_demo(out, data, image_size=image_size, epochs=epochs, on_plan=on_plan,
                          on_progress=on_progress, say=_say, training=bars.training())
    _warn_skipped(result.best.index.skipped)
    typer.echo(str(result.report))


@app.command()
def evaluate(
    model: Annotated[Path, typer.Argument(help="Model folder to judge (its weights stay frozen).")],
    train: Annotated[Path, typer.Option(help="Labelled train split: an image folder with one sub-folder per class, "
                                             "or an STL-10 / CIFAR-10 folder (its train split).")],
    test: Annotated[Path, typer.Option(help="Labelled test split, the same kinds (STL-10 / CIFAR-10: its test "
                                            "split).")],
    layer: Annotated[
        Optional[str], typer.Option(help="Read the head or the backbone (default: the model's embedding layer).")
    ] = None,
    k: Annotated[int, typer.Option(min=1, help="Neighbours that vote in the kNN classifier.")] = 20,
    knn_temperature: Annotated[float, typer.Option(help="kNN vote weight exp(cos/T).")] = 0.07,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of a table.")] = False,
    cache: Annotated[bool, typer.Option(help="Keep features on disk, so a second evaluation skips the encoder.")] = (
        True
    ),
    batch_size: BatchOption = 64,
    workers: WorkersOption = None,
    device: DeviceOption = None,
    precision: PrecisionOption = "auto",
) -> None:
    """Judge MODEL with labels: linear probe (top-1/top-5), weighted kNN, and retrieval of --test from --train
    (precision@1, R-precision, mAP@R)."""
    from lookalike.evaluate import DEFAULT_CACHE
    from lookalike.evaluate import evaluate as run_evaluation

    with _progress() as bars:
        on_plan, on_progress = bars.counter("embedding")
        result = run_evaluation(model, train, test, layer=layer, k=k, knn_temperature=knn_temperature,
                                settings=_settings(batch_size, workers, device, precision),
                                cache_dir=DEFAULT_CACHE if cache else None, on_plan=on_plan, on_progress=on_progress)
    _warn_skipped(result.skipped)
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=2))
        return
    rows = [
        ("model", f"{result.model_id} (layer: {result.layer})"),
        ("train", result.train),
        ("test", result.test),
        ("linear probe top-1", f"{result.probe.top1:.4f}"),
        (f"linear probe top-{min(5, result.probe.classes)}", f"{result.probe.top5:.4f}"),
        ("linear probe train top-1", f"{result.probe.train_top1:.4f}"),
        (f"kNN top-1 (k={result.k})", f"{result.knn_top1:.4f}"),
        ("precision@1", f"{result.retrieval.precision_at_1:.4f}"),
        ("R-precision", f"{result.retrieval.r_precision:.4f}"),
        ("mAP@R", f"{result.retrieval.map_at_r:.4f}"),
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        typer.echo(f"{name:<{width}}  {value}")


def main() -> None:
    """Entry point: user errors become one line on stderr and exit status 2, never a traceback."""
    try:
        app()
    except LookalikeError as err:
        _say(f"error: {err}")
        sys.exit(2)
    except KeyboardInterrupt:
        _say("interrupted; what was saved before (the last gallery commit, the last training checkpoint) is kept")
        sys.exit(130)
