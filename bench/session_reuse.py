"""What holding a gallery open buys (issue #17): query latency through one Session against opening the gallery and
its model for every query, as `search_images` and friends did; and recognition through the store's search among
enrolled images against reading every catalog row per request, as recognition did.

Part 1 indexes up to --images photos of DATA with a random-init ResNet-18 at 128 px, then times --queries
single-image searches both ways (reopening loads the model copy, checks its hashes, folds its batch norms and hashes
its weights again). Part 2 fills a gallery with --rows random unit vectors, --enrolled of them enrolled under
--identities names, and times recognising --queries vectors both ways (the same decisions, checked).

    .venv/bin/python bench/session_reuse.py [--data ../shared/data/flowers_recognition] [--record]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import record

import lookalike
from lookalike.data import find_images
from lookalike.embed import EmbedSettings
from lookalike.gallery import Gallery, ImageRecord
from lookalike.match import CosineDistance, recognise
from lookalike.verification import recognise_vectors


def _milliseconds(action, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        times.append((time.perf_counter() - started) * 1000)
    return times


def search_latency(data: Path, images: int, queries: int, scratch: Path) -> tuple[list[float], list[float], int]:
    files = find_images(data)[:images]
    folder = scratch / "photos"
    folder.mkdir()
    for file in files:
        (folder / file.name).symlink_to(file)
    settings = EmbedSettings(workers=0)
    with lookalike.open(scratch / "g", settings=settings) as session:
        session.index(folder)
    picks = [folder / files[i % len(files)].name for i in range(queries)]

    def reopening() -> None:
        for path in picks:
            with lookalike.open(scratch / "g", settings=settings) as each:
                each.search(path, k=10)

    with lookalike.open(scratch / "g", settings=settings) as session:
        session.search(picks[0], k=10)  # the inference copy is built on first use, as in a server's first request

        def reusing() -> None:
            for path in picks:
                session.search(path, k=10)

        reused = _milliseconds(reusing, 3)
    reopened = _milliseconds(reopening, 3)
    return [t / queries for t in reopened], [t / queries for t in reused], len(files)


def recognition_latency(rows: int, enrolled: int, identities: int, queries: int,
                        scratch: Path) -> tuple[list[float], list[float]]:
    rng = np.random.default_rng(0)
    dim = 256
    vectors = rng.standard_normal((rows, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    names = [f"person{i % identities}" if i < enrolled else None for i in range(rows)]
    records = [ImageRecord(f"/bench/{i}.jpg", 1, 1, "0" * 64, identity=names[i]) for i in range(rows)]
    with Gallery.create(scratch / "r", model_id="bench", dim=dim) as store:
        store.add(records, vectors, model_id="bench")
        store.commit()
    probes = vectors[:queries] + 0.05 * rng.standard_normal((queries, dim)).astype(np.float32)
    probes /= np.linalg.norm(probes, axis=1, keepdims=True)
    with Gallery.open(scratch / "r", read_only=True) as store:
        def scanning() -> list:  # what recognition did: every row read, the enrolled ones' vectors fetched
            rows_read = [(image.id, image.identity) for image in store.images() if image.identity is not None]
            found = store.vectors([id_ for id_, _ in rows_read])
            return recognise(probes, found, [name for _, name in rows_read], 0.5, distance=CosineDistance())

        def searching() -> list:
            return recognise_vectors(store, CosineDistance(), probes, 0.5)

        assert [r.closest for r in scanning()] == [r.closest for r in searching()]
        searching()  # the enrolled vectors are gathered once per commit; the first request pays for it
        scanned = _milliseconds(scanning, 5)
        searched = _milliseconds(searching, 5)
    return [t / queries for t in scanned], [t / queries for t in searched]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("../shared/data/flowers_recognition"))
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--queries", type=int, default=20)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--enrolled", type=int, default=1_000)
    parser.add_argument("--identities", type=int, default=200)
    record.add_record_options(parser)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        reopened, reused, indexed = search_latency(args.data, args.images, args.queries, Path(scratch))
        scanned, searched = recognition_latency(args.rows, args.enrolled, args.identities, args.queries,
                                                Path(scratch))
    median = statistics.median
    lines = [
        f"search: {indexed} photos indexed, {args.queries} single-image searches, k = 10, ResNet-18 at 128 px; "
        f"recognition: {args.rows} rows, {args.enrolled} enrolled under {args.identities} names, {args.queries} "
        "queries at once; median of the repeats, per query",
        "",
        "| operation | before (per query) | now (per query) | ratio |",
        "|---|---|---|---|",
        f"| search one image | open the gallery and model each time: {median(reopened):.1f} ms | one Session: "
        f"{median(reused):.1f} ms | {median(reopened) / median(reused):.1f}× faster |",
        f"| recognise | read every row: {median(scanned):.2f} ms | the store's search among the enrolled: "
        f"{median(searched):.2f} ms | {median(scanned) / median(searched):.1f}× faster |",
    ]
    record.publish("Holding a gallery open (issue #17)", lines, args)


if __name__ == "__main__":
    main()
