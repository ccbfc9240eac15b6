"""Duplicates and clusters at 100 k and 1 M vectors: time and memory, and the planted copies found.

For each size, a gallery (HNSW index) is filled with seeded clustered unit vectors (`search_speed.clustered`), 1 % of
them near-copies of others (a little noise, cosine about 0.999). Then a fresh process opens it and runs, through the
public functions, what `duplicates --threshold` and `clusters` run: the neighbour graph (16 nearest per image), the
groups at the threshold, HDBSCAN; then 1 % more vectors are added and the graph is brought up to date, which searches
only for those. Its peak RSS is the memory figure: an N×N float32 matrix, imagededup's way, would need N² × 4 bytes.

    .venv/bin/python bench/collection_scale.py --sizes 100000 1000000 --out /tmp/cs --record
"""

from __future__ import annotations

import argparse
import multiprocessing
import time
from pathlib import Path

import numpy as np
import record
from search_speed import clustered, peak_rss_bytes

from lookalike.collection.clusters import cluster_labels
from lookalike.collection.duplicates import find_duplicates
from lookalike.collection.neighbours import update_neighbours
from lookalike.gallery.embedded import Gallery
from lookalike.gallery.records import ImageRecord

MODEL_ID = "bench-collection"
THRESHOLD = 0.995
CHUNK = 50_000


def vectors_with_copies(n: int, dim: int, seed: int) -> tuple[np.ndarray, int]:
    """n unit vectors whose last n // 100 are near-copies of the first n // 100."""
    copies = n // 100
    base, _ = clustered(n - copies, 0, dim, clusters=1000, spread=1.0, decay=0.5, seed=seed)
    rng = np.random.default_rng(seed + 1)
    near = base[:copies] + 0.03 * rng.standard_normal((copies, dim), dtype=np.float32) / np.sqrt(dim)
    near /= np.linalg.norm(near, axis=1, keepdims=True)
    return np.concatenate([base, near]), copies


def fill(folder: Path, vectors: np.ndarray, start: int = 0) -> None:
    with Gallery.open(folder) if folder.exists() else Gallery.create(folder, model_id=MODEL_ID,
                                                                       dim=vectors.shape[1], index="hnsw") as gallery:
        for first in range(0, len(vectors), CHUNK):
            part = vectors[first:first + CHUNK]
            gallery.add([ImageRecord(path=f"/bench/{start + first + i:08d}.jpg", size=1, mtime_ns=0, sha256="0" * 64)
                         for i in range(len(part))], part, model_id=MODEL_ID)
        gallery.commit()


def run_collection(folder: str, copies: int, extra_path: str, results) -> None:
    """Child process: what `duplicates` and `clusters` do on the gallery, then an incremental update."""
    measured: dict[str, float] = {}
    with Gallery.open(folder, read_only=True) as gallery:
        started = time.perf_counter()
        graph = update_neighbours(gallery).graph
        measured["graph_s"] = time.perf_counter() - started
        started = time.perf_counter()
        report = find_duplicates(gallery, None, threshold=THRESHOLD)  # type: ignore[arg-type]  # no levels needed
        measured["groups_s"] = time.perf_counter() - started
        started = time.perf_counter()
        labels = cluster_labels(graph)
        measured["hdbscan_s"] = time.perf_counter() - started
        measured["clusters"] = int(labels.max()) + 1
        total = len(graph)
        ids = sorted(image.id for image in gallery.images())
    first = ids[0]
    originals, planted = first + np.arange(copies), first + total - copies + np.arange(copies)
    together = {frozenset((a.id, b.id)) for group in report.groups for a in group.images for b in group.images}
    measured["recall"] = float(np.mean([frozenset((int(a), int(b))) in together for a, b in zip(originals, planted)]))
    measured["groups"] = len(report.groups)
    measured["peak_rss"] = peak_rss_bytes()
    fill(Path(folder), np.load(extra_path), start=total)
    with Gallery.open(folder, read_only=True) as gallery:
        started = time.perf_counter()
        update = update_neighbours(gallery)
        measured["incremental_s"] = time.perf_counter() - started
        measured["incremental_searched"] = update.searched
    results.put(measured)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--dim", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True, help="scratch folder (must not exist)")
    record.add_record_options(parser)
    args = parser.parse_args()
    args.out.mkdir(parents=True)
    rows = []
    context = multiprocessing.get_context("spawn")  # OpenMP does not survive a fork
    for n in args.sizes:
        vectors, copies = vectors_with_copies(n, args.dim, args.seed)
        folder = args.out / f"g{n}"
        started = time.perf_counter()
        fill(folder, vectors)
        build_s = time.perf_counter() - started
        extra, _ = clustered(n // 100, 0, args.dim, clusters=1000, spread=1.0, decay=0.5, seed=args.seed + 2)
        np.save(args.out / f"extra{n}.npy", extra)
        results = context.Queue()
        child = context.Process(target=run_collection, args=(str(folder), copies, str(args.out / f"extra{n}.npy"),
                                                             results))
        child.start()
        m = results.get()
        child.join()
        rows.append(f"| {n:,} | {build_s:.0f} s | {m['graph_s']:.0f} s | {m['groups_s']:.1f} s "
                    f"| {m['hdbscan_s']:.0f} s | {m['incremental_s']:.1f} s ({m['incremental_searched']:,} new) "
                    f"| {m['peak_rss'] / 2**20:,.0f} MiB | {n * n * 4 / 2**30:,.0f} GiB "
                    f"| {m['recall']:.3f} ({copies:,} planted) | {m['groups']:,} | {m['clusters']:,} |")
        print(rows[-1], flush=True)
    lines = [
        f"{args.dim}-d seeded clustered unit vectors (1,000 clusters, `search_speed.clustered`), 1 % of them planted "
        f"near-copies (cosine ≈ 0.999); HNSW galleries (M 32, efConstruction 160, efSearch 48); threshold "
        f"{THRESHOLD}; 16 neighbours per image; HDBSCAN at least 3.",
        "",
        "| vectors | index build (not part of the job) | neighbour graph | duplicate groups | HDBSCAN "
        "| after adding 1 % | peak RSS of the job | an N×N float32 matrix | planted pairs found | groups | clusters |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
        *rows,
    ]
    record.publish("Duplicates and clusters at scale (issue #20)", lines, args)


if __name__ == "__main__":
    main()
