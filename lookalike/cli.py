"""The `lookalike` command: argument parsing and printing around the Python API, nothing more.

Results go to stdout in a form that greps and parses well; progress, warnings and errors go to stderr.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)

from lookalike import uploads
from lookalike.collection import LAYOUTS, MAP_SAMPLE
from lookalike.data import BadImage
from lookalike.embed import EmbedSettings
from lookalike.errors import LookalikeError, NothingReadable
from lookalike.gallery import INDEX_KINDS
from lookalike.job_progress import JobStatus
from lookalike.models import backbone_names
from lookalike.models.pair_head import PAIR_HEADS
from lookalike.models.whitening import DEFAULT_SHRINKAGE
from lookalike.objectives import MINERS
from lookalike.objectives.registry import objective_help, objective_spec
from lookalike.preprocess import stage_names
from lookalike.runtime import PRECISIONS
from lookalike.text import printable
from lookalike.training import Callbacks, StepProgress

if TYPE_CHECKING:
    from lookalike.session import Session
    from lookalike.training.history import EpochRow

app = typer.Typer(
    help="Learn what makes unlabeled images alike, then search, verify and recognise with it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
stderr = Console(stderr=True)  # for progress bars only; messages go through _say, unwrapped


def _say(line: str) -> None:
    """One line on stderr, whatever the names in it hold (see lookalike.text)."""
    typer.echo(printable(line), err=True)


def _row(*fields: object, delimiter: str = ",") -> None:
    """One row of CSV (or TSV) on stdout through the csv module, each name made printable: a comma, quote, tab or
    line break in a file name or identity can never forge a row."""
    line = io.StringIO()
    csv.writer(line, delimiter=delimiter, lineterminator="").writerow(
        printable(field) if isinstance(field, str) else field for field in fields)
    typer.echo(line.getvalue())


GRID_GROUPS = 50
"""Groups drawn by `duplicates --grid`: a contact sheet stays a picture one can look through."""

GalleryOption = Annotated[
    str, typer.Option("--gallery", "-g", help="Gallery: a folder, a Milvus Lite file (NAME.db) or a Milvus server "
                                             "(http://HOST:19530); ?collection=NAME picks a Milvus collection.")
]
ModelOption = Annotated[
    Path | None, typer.Option("--model", "-m", help="Model folder (default: the copy kept in the gallery).")
]
BatchOption = Annotated[int, typer.Option(min=1, help="Images per batch.")]
WorkersOption = Annotated[
    int | None, typer.Option(min=0, help="Decoding processes (default: up to 4; 0 decodes in this process).")
]
DeviceOption = Annotated[str | None, typer.Option(help="cpu, cuda or cuda:N (default: CUDA when present).")]
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
                of = f"/{step.epochs}" if step.seconds_left is None else ""  # with a budget, the time decides
                epochs[step.epoch] = self.bar.add_task(f"epoch {step.epoch}{of}", total=step.steps, status="")
            budget = "" if step.seconds_left is None else f"  {step.seconds_left / 60:.1f} min left"
            self.bar.update(epochs[step.epoch], completed=step.step,
                            status=f"loss {step.loss:.4f}  {step.images_per_second:.0f} img/s{budget}")

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


@contextlib.contextmanager
def _job_bar(description: str) -> Iterator[Callable[[JobStatus], None]]:
    """One bar for a whole job of several stages (see lookalike.job_progress): its share done, the stage running, and
    the time left as the job estimates it."""
    columns = TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), TextColumn("{task.fields[status]}")
    with Progress(*columns, console=stderr, transient=True, disable=not stderr.is_terminal) as bar:
        task = bar.add_task(description, total=1.0, status="")

        def on_job(status: JobStatus) -> None:
            seconds = status.seconds_left
            left = f"{seconds / 60:.1f} min" if seconds >= 90 else f"{seconds:.0f} s"
            bar.update(task, completed=status.fraction, status=f"{status.stage}, about {left} left")

        yield on_job


def _default(objective: str, setting: str) -> object:
    """An objective's default for one of its settings, as its registered spec declares it."""
    return objective_spec(objective).settings[setting]


def _say_start(session: Session) -> None:
    if session.started_with:
        typer.echo(f"no --model given: the new gallery embeds with {session.started_with}")


def _warn_skipped(skipped: Sequence[BadImage]) -> None:
    for bad in skipped:
        _say(f"warning: skipped {bad.path}: {bad.reason}")


def _widths(head: str) -> tuple[int, ...]:
    try:
        return tuple(int(width) for width in head.split(","))
    except ValueError:
        raise typer.BadParameter("comma-separated whole numbers, e.g. 512,256,256", param_hint="--head") from None


def _session(gallery: str, model: Path | None = None, settings: EmbedSettings = EmbedSettings()) -> Session:
    """The gallery and its model, open for one command."""
    from lookalike.session import Session

    return Session(gallery, model, settings=settings)


LargestFaceOption = Annotated[
    bool, typer.Option(help="With face preprocessing, answer for each image's largest face only (an ID-photo gate); "
                            "by default every face found gets an answer, named FILE#face N at X,Y WxH.")
]
BackboneOption = Annotated[str, typer.Option(help=f"The trunk: {', '.join(backbone_names())}.")]
WeightsOption = Annotated[
    str | None,
    typer.Option(help="Weights the backbone publishes (imagenet: packaged for efficientnet-lite0, so offline; "
                      "torchvision's download for the ResNets) or a local .safetensors state dict of the backbone; "
                      "default: random init."),
]
PreprocessOption = Annotated[
    str | None, typer.Option(help=f"How each decoded image becomes the square input: {', '.join(stage_names())} "
                                  "(default centre-crop); recorded in the model, which then always prepares its "
                                  "images this way.")
]
ImageSizeOption = Annotated[
    int | None, typer.Option(min=16, max=1024, help="Input size in pixels (default: the backbone's, 128 for the "
                                                    "ResNets; train from random weights on images much smaller: "
                                                    "twice their size, so 64 for CIFAR-10).")
]


def _settings(batch_size: int, workers: int | None, device: str | None, precision: str) -> EmbedSettings:
    return EmbedSettings(batch_size=batch_size, workers=workers, device=device, precision=precision)


@app.command("create-model")
def create_model(
    out: Annotated[Path, typer.Argument(help="Model folder to write (model.safetensors + config.json).")],
    backbone: BackboneOption = "resnet18",
    weights: WeightsOption = None,
    image_size: ImageSizeOption = None,
    preprocess: PreprocessOption = None,
    head: Annotated[str, typer.Option(help="Head widths, comma-separated; the last is the embedding size.")] = (
        "512,256,256"
    ),
    trainable_from: Annotated[
        str | None, typer.Option(help="First stage to train (the ResNets: stem, layer1..layer4); earlier ones stay "
                                      "frozen.")
    ] = None,
    embed_from: Annotated[
        str | None, typer.Option(help="Layer that search reads: head or backbone (default: backbone with published "
                                      "--weights, whose pooled features are an embedding already and which an "
                                      "untrained head would only scramble; else the backbone's choice).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed for the random initialisation.")] = 0,
) -> None:
    """Write a new encoder to OUT, for `index --model OUT` (and, later, training)."""
    from lookalike.models import EncoderConfig, backbone_spec, create_encoder, refuse_existing_model, save_model

    refuse_existing_model(out)
    widths = _widths(head)
    if embed_from is None and weights in backbone_spec(backbone).published:
        embed_from = "backbone"
    config = EncoderConfig.for_backbone(backbone, image_size=image_size, preprocess=preprocess, head=widths,
                                        trainable_from=trainable_from, embed_from=embed_from)
    encoder = create_encoder(config, weights=weights, seed=seed)
    typer.echo(f"model {save_model(encoder, out)}: {backbone} ({encoder.origin['init']} weights), "
               f"{config.image_size} px, "
               f"{config.embedding_dim}-d embedding; saved to {out}")


@app.command()
def train(
    folder: Annotated[Path, typer.Argument(help="Folder of unlabeled images, searched recursively; or an STL-10 "
                                                "binary folder (its unlabeled split) or a CIFAR-10 python folder "
                                                "(its train split). Labels are never read.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Model folder to write; it also holds the checkpoint, "
                                                           "train_log.csv and curves.png.")] = Path("model"),
    objective: Annotated[str, typer.Option(help=f"The loss: {objective_help()}.")] = "triplet",
    mining: Annotated[
        str | None, typer.Option(help=f"Triplet mining in the batch: {', '.join(MINERS)} (default "
                                      f"{_default('triplet', 'mining')}).")
    ] = None,
    margin: Annotated[
        float | None, typer.Option(min=0, help="Triplet margin on squared L2 between unit vectors (distances lie in "
                                               f"0..4; default {_default('triplet', 'margin')}, FaceNet's).")
    ] = None,
    pair_head: Annotated[
        str | None, typer.Option(help=f"Pair head features: {', '.join(PAIR_HEADS)} (default "
                                      f"{_default('pair', 'pair_head')}).")
    ] = None,
    temperature: Annotated[
        float | None, typer.Option(help=f"NT-Xent temperature (simclr; default {_default('simclr', 'temperature')}).")
    ] = None,
    views: Annotated[
        str | None, typer.Option(help="Augmentation: seed (centre half crop, flip, contrast 0.2-1.8), simclr "
                                         "(crop, flip, colour jitter, greyscale), simclr-short (simclr with crops of "
                                         "a fifth of the image or more and half the jitter: for runs of minutes) or "
                                         "faces (simclr with crops of half the face or more, brightness and contrast "
                                         "only); default: faces with --preprocess faces, else simclr for the simclr "
                                         "objective and seed otherwise.")
    ] = None,
    head: Annotated[
        str | None, typer.Option(help="Head widths, comma-separated (default 512,256,256; simclr: a 512,128 "
                                         "projection).")
    ] = None,
    embed_from: Annotated[
        str | None, typer.Option(help="Layer that search and evaluation read: head or backbone (default: "
                                         "backbone for simclr and triplet, whose head only serves the loss; head "
                                         "for pair).")
    ] = None,
    backbone: BackboneOption = "resnet18",
    weights: WeightsOption = None,
    trainable_from: Annotated[
        str | None, typer.Option(help="First stage to train; default with --weights: the backbone's choice "
                                      "(layer4 for the ResNets), else all.")
    ] = None,
    image_size: ImageSizeOption = None,
    preprocess: PreprocessOption = None,
    labels: Annotated[
        str | None, typer.Option(help="folders: the sub-folder names are identities (people, products) and batches "
                                      "hold several images of each, so that positives are other photos of the same "
                                      "identity (FaceNet); triplet and pair only. Default: no label is read.")
    ] = None,
    per_identity: Annotated[
        int | None, typer.Option(min=2, help="With --labels: images of one identity in a batch (K; default 4).")
    ] = None,
    epochs: Annotated[
        int | None, typer.Option(min=1, help="Epochs in all (default 10, or as many as --minutes holds; with "
                                                "--resume, the run's own).")
    ] = None,
    minutes: Annotated[
        float | None, typer.Option(min=0.01, help="Wall-clock budget for the whole run, decoding included: stop "
                                                     "when it is spent or after --epochs, whichever comes first, "
                                                     "with the learning rate annealed over the time. With --resume, "
                                                     "a new budget counting the minutes already spent.")
    ] = None,
    batch_size: Annotated[
        int | None, typer.Option(min=2, help="Images per batch, each giving two views (default 8; simclr 256).")
    ] = None,
    optimizer: Annotated[str | None, typer.Option(help="adam, adamw or sgd (default adam; simclr adamw).")] = None,
    lr: Annotated[float | None, typer.Option(min=0, help="Peak learning rate (default 1e-4; simclr 1e-3).")] = None,
    weight_decay: Annotated[float | None, typer.Option(min=0, help="Default 0; simclr 1e-6.")] = None,
    schedule: Annotated[str, typer.Option(help="cosine or constant, after the warm-up.")] = "cosine",
    warmup_epochs: Annotated[
        float | None, typer.Option(min=0, help="Linear warm-up length in epochs (default 0; simclr 1).")
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
    from lookalike.diagnostics import verdict
    from lookalike.objectives.choice import ObjectiveChoice
    from lookalike.training import TrainSettings, resume_training, train_folder

    widths = _widths(head) if head else None
    choice = ObjectiveChoice.from_options(objective, mining=mining, margin=margin, pair_head=pair_head,
                                          temperature=temperature)
    with _progress() as bars:
        callbacks = bars.training()
        if resume:
            run = resume_training(out, epochs=epochs, minutes=minutes, callbacks=callbacks)
        else:
            run = train_folder(
                folder, out,
                objective=choice,
                settings=TrainSettings.with_defaults(
                    choice.default_training, epochs=epochs, minutes=minutes, batch_size=batch_size,
                    optimizer=optimizer, lr=lr, weight_decay=weight_decay, schedule=schedule,
                    warmup_epochs=warmup_epochs, seed=seed, precision=precision, device=device, workers=workers,
                    per_identity=per_identity,
                ),
                backbone=backbone, weights=weights, trainable_from=trainable_from, image_size=image_size,
                preprocess=preprocess, head=widths, embed_from=embed_from, views=views, valid_fraction=valid_fraction,
                labels=labels,
                callbacks=callbacks,
            )
    if not run.reports:
        return
    _warn_skipped(run.skipped)
    last = run.report.history[-1]
    accuracy = last.measure("valid_triplet_accuracy")
    typer.echo(f"model {run.report.model_id}: {len(run.report.history)} epochs"
               + (" (stopped at the time budget)" if run.report.out_of_time else "")
               + f", final loss {last.train_loss:.4f}"
               + (f", validation triplet accuracy {accuracy:.3f}" if accuracy is not None else "")
               + f"; saved to {run.report.model_dir}")
    sentence = verdict(run.report.history[0].validation, last.validation)
    if sentence:
        typer.echo(sentence)


@app.command()
def whiten(
    model: Annotated[Path, typer.Argument(help="Model folder to whiten (left unchanged).")],
    folder: Annotated[Path, typer.Argument(help="Unlabeled images to fit the whitening on, e.g. the training "
                                                "folder.")],
    out: Annotated[Path, typer.Option(help="Folder for the whitened model.")],
    shrinkage: Annotated[float, typer.Option(min=0.0, help="Variances are shrunk to λ + s·λ_max; 0 is plain PCA "
                                                           "whitening.")] = DEFAULT_SHRINKAGE,
    dims: Annotated[int | None, typer.Option(min=1, help="Keep this many principal directions (default: all "
                                                            "the images span).")] = None,
    batch_size: BatchOption = 64,
    workers: WorkersOption = None,
    device: DeviceOption = None,
    precision: PrecisionOption = "auto",
) -> None:
    """Write a copy of MODEL whose embedding is PCA-whitened on FOLDER (no labels read): on a small or narrow data
    set, this lets the many small differences between look-alikes count beside the few large ones."""
    from lookalike.whiten import whiten_model

    with _progress() as bars:
        on_plan, on_progress = bars.counter("embedding")
        report = whiten_model(model, folder, out, shrinkage=shrinkage, dims=dims,
                              settings=_settings(batch_size, workers, device, precision), on_plan=on_plan,
                              on_progress=on_progress)
    _warn_skipped(report.skipped)
    typer.echo(f"model {report.model_id}: whitened to {report.dims} dimensions on {report.images} images; "
               f"saved to {out}")


def _epoch_line(row: EpochRow) -> str:
    """The epoch's loss, then whatever the objective and validation measured, then its speed."""
    measures = {**row.statistics, **row.validation}
    extras = "".join(f", {name} {value:.3f}" for name, value in measures.items() if value is not None)
    return (f"epoch {row.epoch}: loss {row.train_loss:.4f}{extras}, "
            f"{row.images} images at {row.images_per_second:.0f} img/s, {row.seconds:.1f} s")


@app.command()
def index(
    folder: Annotated[Path, typer.Argument(help="Folder of images, searched recursively.")],
    gallery: GalleryOption,
    model: ModelOption = None,
    index_kind: Annotated[
        str | None,
        typer.Option("--index", help=f"{'|'.join(INDEX_KINDS)}: exact (flat) or approximate; default flat. "
                                     "Naming another kind for an existing gallery rebuilds its index."),
    ] = None,
    prune: Annotated[bool, typer.Option(help="Remove gallery entries whose files are gone from FOLDER.")] = False,
    engine: Annotated[str, typer.Option(help="Who embeds: local (this machine) or ray (a Ray cluster, with Ray "
                                             "Data; needs lookalike[ray]).")] = "local",
    address: Annotated[str | None, typer.Option(help="With --engine ray: the cluster to join (ray://HOST:10001 or "
                                                     "auto); default: a Ray on this machine.")] = None,
    batch_size: BatchOption = 64,
    workers: WorkersOption = None,
    device: DeviceOption = None,
    precision: PrecisionOption = "auto",
) -> None:
    """Embed the images under FOLDER into a gallery (created on first use). Only new or changed files are embedded."""
    from lookalike.engines import engine_names

    if index_kind is not None and index_kind not in INDEX_KINDS:
        raise typer.BadParameter(f"choose one of {', '.join(INDEX_KINDS)}", param_hint="--index")
    if engine not in engine_names():
        raise typer.BadParameter(f"choose one of {', '.join(engine_names())}", param_hint="--engine")
    if address is not None and engine != "ray":
        raise typer.BadParameter("--address is for --engine ray", param_hint="--address")
    with _progress() as bars:
        on_plan, on_progress = bars.counter("embedding")
        with _session(gallery, model, _settings(batch_size, workers, device, precision)) as session:
            report = session.index(folder, prune=prune, index_kind=index_kind, on_plan=on_plan,
                                   on_progress=on_progress, engine=engine,
                                   engine_options={"address": address} if engine == "ray" else None)
    _warn_skipped(report.skipped)
    _say_start(session)
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
    largest_face: LargestFaceOption = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    grid: Annotated[Path | None, typer.Option(help="Also draw the results as a PNG grid here.")] = None,
    batch_size: BatchOption = 64,
    workers: WorkersOption = None,
    device: DeviceOption = None,
    precision: PrecisionOption = "auto",
) -> None:
    """Find the K gallery images most like each query (cosine similarity, 1 = identical embedding)."""
    if grid is not None and grid.is_dir():
        raise LookalikeError(f"--grid {grid} is a folder; name the PNG file to write")
    with _progress() as bars:
        on_plan, on_progress = bars.counter("embedding queries")
        with _session(gallery, model, _settings(batch_size, workers, device, precision)) as session:
            report = session.search_all(queries, k=k, exclude_self=exclude_self, main_region_only=largest_face,
                                        on_plan=on_plan, on_progress=on_progress)
    _warn_skipped(report.skipped)
    if as_json:
        typer.echo(json.dumps({
            "results": [
                {"query": str(result.query), "hits": [
                    {"rank": rank, "score": round(hit.score, 6), "path": hit.image.path, "label": hit.image.label,
                     **({"region": hit.image.region} if hit.image.region else {})}
                    for rank, hit in enumerate(result.hits, start=1)
                ]}
                for result in report.results
            ],
            "skipped": [{"path": str(bad.path), "reason": bad.reason} for bad in report.skipped],
        }, indent=2))
    else:
        for result in report.results:
            typer.echo(f"# query {printable(str(result.query))}")
            _row("rank", "score", "path", delimiter="\t")
            for rank, hit in enumerate(result.hits, start=1):
                region = f"#{hit.image.region}" if hit.image.region else ""  # a region the model's stage found
                _row(rank, f"{hit.score:.4f}", hit.image.path + region, delimiter="\t")
    if grid is not None and report.results:
        from lookalike.report.grid import render_grid

        _say(f"grid: {render_grid(report.results, grid)}")


@app.command()
def duplicates(
    gallery: GalleryOption,
    threshold: Annotated[float | None, typer.Option(
        min=-1.0, max=1.0, help="Cosine similarity at or above which images are grouped, by the model alone "
                                "(default: the rule measured for the gallery's model on copies of its own photos, "
                                "which also compares pixel prints).")] = None,
    similar: Annotated[bool, typer.Option(
        "--similar", help="Group at the looser measured level: other framings of one scene, not only copies.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of CSV.")] = False,
    grid: Annotated[Path | None, typer.Option(
        help=f"Also draw the first {GRID_GROUPS} groups as a PNG contact sheet here, one row per group.")] = None,
    rebuild: Annotated[bool, typer.Option(
        help="Search for every image's neighbours again, not only for the images added since the last run.")] = False,
    batch_size: BatchOption = 64,
    workers: WorkersOption = None,
    device: DeviceOption = None,
    precision: PrecisionOption = "auto",
) -> None:
    """Group near-duplicates: the same photo saved again, resized, trimmed, re-exposed or softened.

    Prints CSV rows group,path (and box, for the regions a face model found), largest group first. No image is
    ever in two groups, and a group holds only images that are all alike to each other.
    """
    if grid is not None and grid.is_dir():
        raise LookalikeError(f"--grid {grid} is a folder; name the PNG file to write")
    with _progress() as bars:
        on_search = bars.counter("searching for neighbours")
        on_measure = bars.counter("measuring what a duplicate is")
        with _session(gallery, settings=_settings(batch_size, workers, device, precision)) as session:
            report = session.duplicates(threshold=threshold, level="similar" if similar else "duplicate",
                                        rebuild=rebuild, on_search=on_search, on_measure=on_measure)
    if report.levels is not None:
        _say(f"levels for this gallery's model: {report.levels.describe()}")
    grouped = sum(len(group.images) for group in report.groups)
    kind = "similar images" if similar else "near-duplicates"
    rule = report.rule
    prints = "" if rule.pixel is None else f", or ≥ {rule.candidate:.4f} with matching pixel prints"
    _say(f"{len(report.groups)} group{'s' * (len(report.groups) != 1)} of {kind} ({grouped} of {report.images} "
         f"images) at similarity ≥ {rule.model:.4f}{prints}; searched for the neighbours of {report.searched} new "
         f"image{'s' * (report.searched != 1)}")
    if as_json:
        typer.echo(json.dumps({
            "threshold": report.threshold, "level": report.level,
            "groups": [[{"path": image.path, "score": round(score, 6),
                         **({"box": image.region} if image.region else {})}
                        for image, score in zip(group.images, group.scores)] for group in report.groups],
        }, indent=2))
    else:
        boxes = any(image.region for group in report.groups for image in group.images)
        _row("group", "path", *(("box",) if boxes else ()))
        for number, group in enumerate(report.groups, start=1):
            for image in group.images:
                _row(number, image.path, *((image.region,) if boxes else ()))
    if grid is not None and report.groups:
        from lookalike.report.grid import render_groups

        _say(f"grid: {render_groups(report.groups[:GRID_GROUPS], grid)}")


@app.command()
def clusters(
    gallery: GalleryOption,
    min_size: Annotated[int, typer.Option(min=2, help="The fewest images a cluster holds.")] = 3,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of CSV.")] = False,
    grid: Annotated[Path | None, typer.Option(
        help=f"Also draw the first {GRID_GROUPS} clusters as a PNG contact sheet here, one row per cluster.")] = None,
    rebuild: Annotated[bool, typer.Option(
        help="Search for every image's neighbours again, not only for the images added since the last run.")] = False,
) -> None:
    """Cluster look-alikes without being told how many (HDBSCAN); with a face model, these are the people.

    Prints CSV rows cluster,path (and box, for faces): identities named with `name-cluster` or `enroll` under their
    name, then numbered clusters of the images no one has named, largest first, then -1 for images in no cluster.
    """
    if grid is not None and grid.is_dir():
        raise LookalikeError(f"--grid {grid} is a folder; name the PNG file to write")
    with _progress() as bars, _session(gallery) as session:
        report = session.clusters(min_size=min_size, rebuild=rebuild,
                                  on_search=bars.counter("searching for neighbours"))
    unnamed = [cluster for cluster in report.clusters if not cluster.named]
    _say(f"{len(unnamed)} unnamed cluster{'s' * (len(unnamed) != 1)} of at least {min_size}, "
         f"{len(report.clusters) - len(unnamed)} named, {len(report.noise)} of {report.images} images in none; "
         "name one with `lookalike name-cluster NUMBER NAME`")
    rows = [(cluster.key, image) for cluster in report.clusters for image in cluster.images]
    rows += [("-1", image) for image in report.noise]
    if as_json:
        typer.echo(json.dumps({"clusters": [
            {"cluster": key, "path": image.path, **({"box": image.region} if image.region else {})}
            for key, image in rows]}, indent=2))
    else:
        boxes = any(image.region for _, image in rows)
        _row("cluster", "path", *(("box",) if boxes else ()))
        for key, image in rows:
            _row(key, image.path, *((image.region,) if boxes else ()))
    if grid is not None and report.clusters:
        from lookalike.report.grid import render_clusters

        _say(f"grid: {render_clusters(report.clusters[:GRID_GROUPS], grid)}")


@app.command("name-cluster")
def name_cluster_command(
    cluster: Annotated[str, typer.Argument(help="The cluster's number in the last `clusters` run.")],
    name: Annotated[str, typer.Argument(help="The identity to enrol its images as (an existing one: a merge).")],
    gallery: GalleryOption,
    leave_out: Annotated[list[Path] | None, typer.Option(
        "--except", help="An image of the cluster that is someone else (repeat for several): it stays unnamed.",
    )] = None,
) -> None:
    """Enrol a cluster as an identity, so that `recognize` knows it and no re-run of `clusters` undoes it."""
    with _session(gallery) as session:
        naming = session.name_cluster(cluster, name, except_paths=leave_out or [])
    merged = " (joining the images it had)" if naming.joined else ""
    typer.echo(f"enrolled {naming.named} image{'s' * (naming.named != 1)} of cluster {cluster} as "
               f"{printable(naming.identity)}{merged}")
    if naming.kept:
        _say(f"{naming.kept} image{'s' * (naming.kept != 1)} of the cluster already had another name and kept it")
    if naming.left_out:
        _say(f"{naming.left_out} image{'s' * (naming.left_out != 1)} left out (--except, or no longer in the gallery)")


@app.command("map")
def map_command(
    gallery: GalleryOption,
    out: Annotated[Path, typer.Option("--out", "-o", help="The PNG file to write.")] = Path("map.png"),
    colour_by: Annotated[str | None, typer.Option(
        help="cluster (the last `clusters` run, and names), label (folder names) or none; default: clusters when "
             "the gallery was clustered or has identities, else labels.")] = None,
    method: Annotated[str | None, typer.Option(
        help=f"Layout: {', '.join(LAYOUTS)} (default: umap where umap-learn is installed, else tsne).")] = None,
    sample: Annotated[int, typer.Option(min=1, help="Lay out at most this many images, drawn at random.")] = MAP_SAMPLE,
) -> None:
    """Draw a 2-D map of the gallery: look-alikes near each other, coloured by cluster or label, with thumbnails."""
    if out.is_dir():
        raise LookalikeError(f"--out {out} is a folder; name the PNG file to write")
    with _session(gallery) as session:
        _say(f"laying out up to {sample:,} images (t-SNE takes about a minute for 5,000 on two cores)")
        layout, by = session.map(out, colour_by=colour_by, method=method, sample=sample)
    typer.echo(f"map: {out} ({len(layout.images):,} images by {layout.method}, coloured by {by})")


@app.command()
def remove(
    paths: Annotated[list[Path], typer.Argument(help="Images, or folders whose images should all go.")],
    gallery: GalleryOption,
) -> None:
    """Remove images from a gallery (the files on disk are not touched)."""
    with _session(gallery) as session:
        removed = session.remove(paths)
    typer.echo(f"removed {removed} image{'s' * (removed != 1)} from {gallery}")


@app.command("copy-gallery")
def copy_gallery(
    source: Annotated[str, typer.Argument(help="The gallery to copy (it is only read).")],
    destination: Annotated[str, typer.Argument(help="A new gallery: a folder, NAME.db, or http://HOST:19530.")],
    index_kind: Annotated[str | None, typer.Option("--index", help=f"{'|'.join(INDEX_KINDS)} for the copy "
                                                                    "(default: the source's).")] = None,
) -> None:
    """Copy a gallery into another store (a folder into Milvus, or back) without embedding again: images, vectors,
    identities, τ and the model."""
    from lookalike.migration import copy_gallery as copy

    if index_kind is not None and index_kind not in INDEX_KINDS:
        raise typer.BadParameter(f"choose one of {', '.join(INDEX_KINDS)}", param_hint="--index")
    with _progress() as bars:
        on_plan, on_progress = bars.counter("copying")
        copied = copy(source, destination, index=index_kind, on_plan=on_plan, on_progress=on_progress)
    typer.echo(f"copied {copied} image{'s' * (copied != 1)} from {source} to {destination}")


@app.command()
def info(gallery: GalleryOption) -> None:
    """Show what a gallery holds and which model made it."""
    with _session(gallery) as session:
        summary = session.info()
    info = summary.info
    facts = {
        "gallery": summary.location,
        "images": str(info.count),
        "model id": info.model_id,
        "embedding dim": str(info.dim),
        "metric": info.metric,
        "index": info.index,
        "threshold": "not calibrated" if info.threshold is None else f"{info.threshold:.4f}",
    }
    if summary.backbone is not None:
        facts["model"] = f"{summary.backbone} at {summary.image_size} px, weights: {summary.weights}"
    for key, value in facts.items():
        typer.echo(f"{key}: {value}")


@app.command()
def demo(
    data: Annotated[
        Path | None, typer.Option(help="Labelled image folder to use (default: a public set, see below).")
    ] = None,
    out: Annotated[Path, typer.Option(help="The demo's own folder: model, galleries, grid and report; what a rerun "
                                           "cannot reuse is rebuilt.")] = Path("demo-output"),
    image_size: Annotated[int | None, typer.Option(min=16, max=1024, help="Model input size in pixels (default: "
                                                                         "the recipe's).")] = None,
    minutes: Annotated[float, typer.Option(min=0.1, help="Training time budget in minutes.")] = 1.5,
    epochs: Annotated[int, typer.Option(min=0, help="At most this many label-free training epochs; 0 shows only "
                                                    "the baseline, the network as training would start it.")] = 50,
    precision: PrecisionOption = "auto",
) -> None:
    """Run the main job: train a model without labels, index a labelled folder with it and with the same network as
    training started it (untrained, or pretrained and frozen), search every image against the rest, and write an HTML
    report comparing the two; the last lines give each encoder's scores, then the report's path.

    Without --data it downloads TensorFlow's flower photos (cached), or offline uses scikit-learn's handwritten
    digits, and says which it used.
    """
    from lookalike.demo import run_demo

    with _job_bar("demo") as on_job:
        result = run_demo(out, data, image_size=image_size, epochs=epochs, minutes=minutes, precision=precision,
                          say=_say, on_job=on_job)
    _warn_skipped(result.best.index.skipped)
    for line in result.summary():
        typer.echo(line)


ThresholdOption = Annotated[
    float | None, typer.Option(min=0, max=2, help="Decision threshold τ on the distance (accept when d < τ); "
                                                    "default: the gallery's calibrated τ.")
]
AggregateOption = Annotated[
    str, typer.Option(help="Score an identity with several images by its nearest image, or by their mean.")
]


@app.command()
def enroll(
    folder: Annotated[Path, typer.Argument(help="One sub-folder per identity, or one image per identity named "
                                                "after it (ann.jpg enrols ann).")],
    gallery: GalleryOption,
    model: ModelOption = None,
    batch_size: BatchOption = 64,
    workers: WorkersOption = None,
    device: DeviceOption = None,
    precision: PrecisionOption = "auto",
) -> None:
    """Enrol identities from FOLDER into the gallery: their embeddings are stored with their names, no retraining."""
    with _progress() as bars:
        on_plan, on_progress = bars.counter("enrolling")
        with _session(gallery, model, _settings(batch_size, workers, device, precision)) as session:
            report = session.enrol_folder(folder, on_plan=on_plan, on_progress=on_progress)
    _warn_skipped(report.skipped)
    for path, count in report.crowded.items():
        _say(f"warning: {path}: {count} faces (regions) found; enrolled the largest")
    images = sum(report.enrolled.values())
    _say_start(session)
    typer.echo(f"enrolled {len(report.enrolled)} identities ({images} images) in {report.gallery}; "
               f"{report.identities} identities in all")


@app.command()
def identities(gallery: GalleryOption) -> None:
    """List the enrolled identities as `identity,images` lines."""
    with _session(gallery) as session:
        known = session.identities()
    for name, count in known.items():
        _row(name, count)


@app.command("rename-identity")
def rename_identity_command(
    old: Annotated[str, typer.Argument(help="Enrolled name.")],
    new: Annotated[str, typer.Argument(help="New name (not already enrolled).")],
    gallery: GalleryOption,
) -> None:
    """Rename an enrolled identity; its images and embeddings stay."""
    with _session(gallery) as session:
        count = session.rename_identity(old, new)
    typer.echo(f"renamed {old} to {new} ({count} images)")


@app.command("remove-identity")
def remove_identity_command(
    name: Annotated[str, typer.Argument(help="Enrolled name.")],
    gallery: GalleryOption,
) -> None:
    """Forget an enrolled identity and its embeddings (the image files are not touched)."""
    with _session(gallery) as session:
        count = session.remove_identity(name)
    typer.echo(f"removed {name} ({count} images)")


@app.command()
def verify(
    image: Annotated[Path, typer.Argument(help="The image to verify.")],
    other: Annotated[Path | None, typer.Argument(help="A second image to compare with.")] = None,
    claimed: Annotated[str | None, typer.Option(help="Compare with this enrolled identity instead.")] = None,
    gallery: Annotated[str | None, typer.Option("--gallery", "-g", help="Gallery (its model and τ).")] = None,
    model: ModelOption = None,
    threshold: ThresholdOption = None,
    aggregate: AggregateOption = "nearest",
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    device: DeviceOption = None,
    precision: PrecisionOption = "auto",
) -> None:
    """Is IMAGE the same identity as OTHER, or as the --claimed enrolled identity? Prints the distance, the
    similarity and the decision at τ. Exit status 0 for same, 1 for different or undecided."""
    settings = _settings(2, 0, device, precision)
    if (other is None) == (claimed is None):
        raise typer.BadParameter("give a second image or --claimed NAME (not both)", param_hint="OTHER")
    if gallery is None:
        if claimed is not None:
            raise typer.BadParameter("--claimed needs --gallery", param_hint="--gallery")
        if model is None:
            raise LookalikeError("name the model to compare with: --model M, or --gallery G to use the gallery's")
        from lookalike.model import load_model
        from lookalike.verification import verify_pair

        assert other is not None  # checked above: a second image or --claimed
        verdict = verify_pair(load_model(model, settings), image, other, threshold)
    else:
        with _session(gallery, model, settings) as session:
            if claimed is not None:
                verdict = session.verify_claim(image, claimed, threshold=threshold, aggregate=aggregate)
            else:
                assert other is not None
                verdict = session.verify(image, other, threshold=threshold)
    decision = {True: "same", False: "different", None: "undecided (no τ: calibrate, or pass --threshold)"}
    if as_json:
        typer.echo(json.dumps({"image": str(verdict.first), "other": str(verdict.second), "distance": verdict.distance,
                               "similarity": verdict.similarity, "threshold": verdict.threshold, "same": verdict.same,
                               "scorer": verdict.distance_name}))
    else:
        shown = "none" if verdict.threshold is None else f"{verdict.threshold:.4f}"
        typer.echo(f"distance {verdict.distance:.4f}  similarity {verdict.similarity:.4f}  τ {shown}  "
                   f"({verdict.distance_name}): {decision[verdict.same]}")
    raise typer.Exit(0 if verdict.same else 1)


@app.command()
def recognize(
    images: Annotated[list[Path], typer.Argument(help="Images or folders (searched recursively).")],
    gallery: GalleryOption,
    model: ModelOption = None,
    threshold: ThresholdOption = None,
    aggregate: AggregateOption = "nearest",
    largest_face: LargestFaceOption = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of CSV.")] = False,
    batch_size: BatchOption = 64,
    workers: WorkersOption = None,
    device: DeviceOption = None,
    precision: PrecisionOption = "auto",
) -> None:
    """Name the enrolled identity in each image, or `unknown` when none is closer than τ: CSV
    `file,identity,distance`, one line per image."""
    with _progress() as bars:
        on_plan, on_progress = bars.counter("recognising")
        with _session(gallery, model, _settings(batch_size, workers, device, precision)) as session:
            report = session.recognise_all(images, threshold=threshold, aggregate=aggregate,
                                           main_region_only=largest_face, on_plan=on_plan, on_progress=on_progress)
    _warn_skipped(report.skipped)
    if as_json:
        typer.echo(json.dumps({"threshold": report.threshold, "scorer": report.distance_name, "results": [
            {"file": str(path), "identity": r.identity, "distance": r.distance, "closest": r.closest}
            for path, r in report.results]}, indent=2))
        return
    _row("file", "identity", "distance")
    for path, result in report.results:
        _row(str(path), result.identity or "unknown", f"{result.distance:.4f}")


@app.command()
def calibrate(
    folder: Annotated[Path, typer.Argument(help="Labelled folder: one sub-folder per identity, two or more images "
                                                "for some of them.")],
    gallery: Annotated[str | None, typer.Option("--gallery", "-g", help="Store τ in this gallery (and "
                                                                            "calibrate its model).")] = None,
    model: ModelOption = None,
    target_far: Annotated[
        float | None, typer.Option(min=0, max=1, help="Choose τ at this false-accept rate (default: at the EER).")
    ] = None,
    roc: Annotated[Path | None, typer.Option(help="ROC plot to write (default: roc.png in the gallery, or "
                                                     "here without one).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    batch_size: BatchOption = 64,
    workers: WorkersOption = None,
    device: DeviceOption = None,
    precision: PrecisionOption = "auto",
) -> None:
    """Measure verification on FOLDER (ROC AUC, EER, TAR at FAR 1e-2 and 1e-3), choose τ and store it with the
    gallery, where verify and recognize use it by default."""
    from lookalike.report.roc import ROC_FILE

    settings = _settings(batch_size, workers, device, precision)
    with _progress() as bars:
        on_plan, on_progress = bars.counter("embedding")
        if gallery is not None:
            with _session(gallery, model, settings) as session:
                report = session.calibrate(folder, target_far=target_far, roc=roc or session.folder / ROC_FILE,
                                           on_plan=on_plan, on_progress=on_progress)
        elif model is not None:
            from lookalike.model import load_model
            from lookalike.verification import calibrate_model

            report = calibrate_model(load_model(model, settings), folder, target_far=target_far,
                                     roc=roc or Path(ROC_FILE), on_plan=on_plan, on_progress=on_progress)
        else:
            raise LookalikeError("name the model to calibrate: --model M, or --gallery G to calibrate its model")
    _warn_skipped(report.skipped)
    if report.overlap:
        shown = ", ".join(report.overlap[:5]) + (", ..." if len(report.overlap) > 5 else "")
        _say(f"warning: {len(report.overlap)} of the {report.identities} calibration identities are enrolled in the "
             f"gallery ({shown}); τ transfers best when calibrated on people who are not enrolled")
    result = report.calibration
    if as_json:
        typer.echo(json.dumps({**result.to_dict(), "threshold": report.threshold, "chosen_at": report.chosen_at,
                               "scorer": report.distance_name, "images": report.images, "identities": report.identities,
                               "roc": str(report.roc), "stored_in": str(report.stored_in) if report.stored_in
                               else None}, indent=2))
        return
    typer.echo(f"{report.images} images of {report.identities} identities: {result.genuine} genuine and "
               f"{result.impostor} impostor pairs ({report.distance_name} distance)")
    typer.echo(f"ROC AUC {result.auc:.4f}  EER {result.eer:.4f} at τ {result.eer_threshold:.4f}")
    for far, tar in sorted(result.tar_at_far.items(), reverse=True):
        typer.echo(f"TAR {tar:.4f} at FAR {far:g} (τ {result.threshold_at_far[far]:.4f})")
    where = f"stored in {report.stored_in}" if report.stored_in else "not stored (no --gallery)"
    typer.echo(f"τ = {report.threshold:.4f} at the {report.chosen_at}, {where}; ROC plot: {report.roc}")


@app.command()
def serve(
    gallery: GalleryOption,
    model: ModelOption = None,
    host: Annotated[str, typer.Option(help="Address to listen on; 127.0.0.1 keeps it to this machine.")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
    token: Annotated[
        str | None, typer.Option(envvar="LOOKALIKE_TOKEN", help="Secret that POST /api/enroll requires as "
                                                                   "'Authorization: Bearer TOKEN'; without one, "
                                                                   "enrolment is off.")
    ] = None,
    max_upload_mb: Annotated[float, typer.Option(min=0.01, help="Largest request body accepted, in MiB; larger "
                                                                "uploads get 413.")] = 10.0,
    max_upload_megapixels: Annotated[
        float, typer.Option(min=0.01, help="Largest uploaded image, in millions of pixels, read from its header "
                                           "before decoding; larger ones get 413.")
    ] = uploads.DEFAULT_MAX_PIXELS / 1e6,
    decodes_at_once: Annotated[
        int, typer.Option(min=1, help="Uploads decoded at the same time; a request that waits longer than "
                                      f"{uploads.DEFAULT_WAIT_SECONDS:g} s for its turn gets 503.")
    ] = uploads.DEFAULT_AT_ONCE,
    allowed_host: Annotated[
        list[str] | None, typer.Option(help="A Host name clients use to reach the server (a reverse proxy's "
                                               "domain), beside the loopback names and, with --host 0.0.0.0, this "
                                               "machine's names; repeat for several, '*' for any. Other Host "
                                               "headers get 400 (DNS rebinding).")
    ] = None,
    device: DeviceOption = None,
    precision: PrecisionOption = "auto",
) -> None:
    """Serve the gallery's page and JSON API: search by image, verify, recognise, and enrol with the token.
    The model loads once; API docs are at /docs."""
    from lookalike.web import serve as run_server

    limits = uploads.UploadLimits(max_pixels=round(max_upload_megapixels * 1e6), at_once=decodes_at_once)
    run_server(gallery, model, host=host, port=port, token=token, max_upload_bytes=int(max_upload_mb * 2**20),
               upload_limits=limits, allowed_hosts=allowed_host or (),
               settings=EmbedSettings(workers=0, device=device, precision=precision), say=_say)


@app.command()
def evaluate(
    model: Annotated[Path, typer.Argument(help="Model folder to judge (its weights stay frozen).")],
    train: Annotated[Path, typer.Option(help="Labelled train split: an image folder with one sub-folder per class, "
                                             "or an STL-10 / CIFAR-10 folder (its train split).")],
    test: Annotated[Path, typer.Option(help="Labelled test split, the same kinds (STL-10 / CIFAR-10: its test "
                                            "split).")],
    layer: Annotated[
        str | None, typer.Option(help="Read the head or the backbone (default: the model's embedding layer).")
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
    for stream in (sys.stdout, sys.stderr):  # a name that slipped past `printable` must not end the run
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="backslashreplace")
    try:
        app()
    except LookalikeError as err:
        if isinstance(err, NothingReadable):
            _warn_skipped(err.skipped)
        _say(f"error: {err}")
        sys.exit(2)
    except KeyboardInterrupt:
        _say("interrupted; what was saved before (the last gallery commit, the last training checkpoint) is kept")
        sys.exit(130)
