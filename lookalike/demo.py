"""The main job, end to end: a labelled folder in, a searchable gallery and an honest HTML report out.

Labels (folder names) are read only to score the results: the model and the gallery never see them.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lookalike import __version__
from lookalike.data import find_images, label_for, split_indices
from lookalike.data.public_sets import demo_images
from lookalike.indexing import IndexReport, index_folder
from lookalike.metrics import RetrievalScores, retrieval_scores
from lookalike.models import EncoderConfig, create_encoder, save_model
from lookalike.report.grid import render_grid
from lookalike.report.html import Section, write_report
from lookalike.search import QueryResult, search_images

GRID_QUERIES = 6
GRID_HITS = 8


@dataclass
class DemoResult:
    data_dir: Path
    data_description: str
    report: Path
    gallery: Path
    grid: Path
    index: IndexReport
    scores: RetrievalScores
    chance_precision_at_1: float


def run_demo(
    out_dir: str | Path = "demo-output",
    data: str | Path | None = None,
    *,
    backbone: str = "resnet18",
    image_size: int = 128,
    query_fraction: float = 0.2,
    seed: int = 0,
    say: Callable[[str], None] = print,
    on_plan: Callable[[int], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> DemoResult:
    """Build a model, index `data` (or a public set), query a held-out fifth of it and write the report."""
    started = time.perf_counter()
    out_dir = Path(out_dir).resolve()
    if data is None:
        data_dir, description = demo_images()
    else:
        data_dir, description = Path(data).resolve(), "the folder given with --data"
    say(f"data: {data_dir} — {description}")
    images = find_images(data_dir)

    encoder = create_encoder(EncoderConfig(backbone=backbone, image_size=image_size), seed=seed)
    model_dir = out_dir / "model"
    save_model(encoder, model_dir)
    say(f"model: untrained {backbone} at {image_size} px (seed {seed}), saved to {model_dir}")

    gallery = out_dir / f"gallery-{data_dir.name}"
    index = index_folder(data_dir, gallery, model=encoder, on_plan=on_plan, on_progress=on_progress)
    say(f"indexed {index.embedded} new or changed images into {gallery} ({index.unchanged} unchanged, "
        f"{len(index.skipped)} skipped) in {index.seconds:.1f} s")

    _, query_positions = split_indices(len(images), 1 - query_fraction, seed)
    queries = [images[i] for i in query_positions]
    labels = [label_for(path, data_dir) for path in images]
    label_counts = Counter(labels)
    searched = search_images(queries, gallery, k=max(label_counts.values()), exclude_self=True)
    query_labels = [label_for(result.query, data_dir) for result in searched.results]
    scores = retrieval_scores(
        query_labels,
        [[hit.image.label for hit in result.hits] for result in searched.results],
        [label_counts[label] - 1 for label in query_labels],  # the query itself is excluded from its hits
    )
    chance = sum((count / len(labels)) ** 2 for count in label_counts.values())
    say(f"retrieval on {scores.queries} held-out queries: precision@1 {scores.precision_at_1:.3f} "
        f"(chance {chance:.3f}), mAP@R {scores.map_at_r:.3f}")

    shown = _one_query_per_label(searched.results, query_labels)[:GRID_QUERIES]
    grid = render_grid(
        [QueryResult(result.query, result.hits[:GRID_HITS]) for result in shown],
        out_dir / "search-grid.png",
        query_labels=[label_for(result.query, data_dir) for result in shown],
    )
    report = write_report(
        out_dir / "report.html",
        "lookalike demo",
        _report_sections(data_dir, description, model_dir, encoder.config, gallery, index, scores, chance, grid,
                         time.perf_counter() - started),
    )
    say(f"report: {report}")
    return DemoResult(data_dir, description, report, gallery, grid, index, scores, chance)


def _one_query_per_label(results: list[QueryResult], labels: list[str | None]) -> list[QueryResult]:
    """The first query of each label, then the rest: a grid that shows every class at least once."""
    seen, first, rest = set(), [], []
    for result, label in zip(results, labels):
        (rest if label in seen else first).append(result)
        seen.add(label)
    return first + rest


def _report_sections(data_dir, description, model_dir, config, gallery, index, scores, chance, grid, seconds):
    return [
        Section("What ran", facts=[
            ("data", f"{data_dir} ({description})"),
            ("images found", str(index.found)),
            ("model", f"untrained {config.backbone}, {config.image_size} px, {config.embedding_dim}-d embedding"),
            ("model folder", str(model_dir)),
            ("gallery", f"{gallery} (model id {index.model_id})"),
            ("embedded this run", f"{index.embedded} ({index.unchanged} unchanged since an earlier run)"),
            ("total time", f"{seconds:.1f} s"),
            ("lookalike", __version__),
        ]),
        Section("Retrieval quality", facts=[
            ("held-out queries", str(scores.queries)),
            ("precision@1", f"{scores.precision_at_1:.3f}"),
            ("chance precision@1", f"{chance:.3f}"),
            ("R-precision", f"{scores.r_precision:.3f}"),
            ("mAP@R", f"{scores.map_at_r:.3f}"),
        ], notes=[
            "Each query is a gallery image searched with itself excluded; a hit counts as correct when it comes "
            "from the same folder. The folder names were read only for this scoring.",
            "The encoder is untrained (random weights), so these numbers are a floor: they show what random "
            "convolutional features alone give, against the chance line above.",
        ]),
        Section("Look-alikes", figures=[grid], notes=[
            "Left: the query. Then its nearest gallery images with cosine similarity; green frames share the "
            "query's folder, red ones do not."]),
        Section(f"Skipped files ({len(index.skipped)})",
                items=[str(bad) for bad in index.skipped] or ["none"]),
    ]
