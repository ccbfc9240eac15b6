"""The gallery stores at scale: the folder store (FAISS + SQLite) against Milvus Lite, both through lookalike's
`GalleryStore` API, on the same clustered unit vectors (see search_speed.py for how they are drawn).

Each store is filled in a fresh process of its own (Milvus Lite runs inside the process that opens it, so that
process's peak resident set is the store's memory), with ``--chunk`` images per ``add`` and one ``commit``:

- insert: vectors per second, from ``create`` to the end of ``commit``;
- first query: the time of the first search after the bulk insert, in that process, then of opening the store
  afresh in another process and searching once (what ``lookalike search`` pays);
- QPS: ``--queries`` queries in one ``search`` call, the median of ``--repeat`` rounds; latency: one query per call;
- recall@10 against the exact top 10 (FAISS ``IndexFlatIP`` over the same vectors);
- memory: the peak resident set of the filling process, and the store's size on disk.

    .venv/bin/python bench/store_scale.py --n 20000                 # a quick check
    .venv/bin/python bench/store_scale.py --n 1000000 --record      # 1 M vectors; appends to BENCHMARKS.md
"""

from __future__ import annotations

import argparse
import multiprocessing
import queue
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import faiss
import numpy as np
import record
from search_speed import clustered, peak_rss_bytes, recall_at

from lookalike.gallery import ImageRecord, store_kind_for

MODEL_ID = "bench-store-scale"
STORES = {"folder (FAISS + SQLite)": "gallery", "Milvus Lite": "gallery.db"}


def fill(location: str, kind: str, vectors_path: str, queries_path: str, chunk: int, results) -> None:
    """Child process: create the store, add every vector, commit, then search once; report the times."""
    base = np.load(vectors_path, mmap_mode="r")
    queries = np.load(queries_path)
    started = time.perf_counter()
    store = store_kind_for(location).create(location, model_id=MODEL_ID, dim=base.shape[1], index=kind)
    with store:
        for start in range(0, len(base), chunk):
            stop = min(start + chunk, len(base))
            records = [ImageRecord(path=f"/bench/{i:08d}.jpg", size=1, mtime_ns=0, sha256="0" * 64)
                       for i in range(start, stop)]
            store.add(records, np.asarray(base[start:stop]), model_id=MODEL_ID)
        store.commit()
        inserted = time.perf_counter() - started
        first = time.perf_counter()
        store.search(queries[:1], 10)
        first_query = time.perf_counter() - first
    results.put({"insert_s": inserted, "first_query_s": first_query, "peak_rss": peak_rss_bytes()})


def reopen_and_search(location: str, queries_path: str, results) -> None:
    """Child process: what a fresh `lookalike search` pays: open the store, search once."""
    queries = np.load(queries_path)
    started = time.perf_counter()
    with store_kind_for(location).open(location, True) as store:
        store.search(queries[:1], 10)
    results.put({"reopen_query_s": time.perf_counter() - started})


def in_child(target, *args) -> dict:
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    child = context.Process(target=target, args=(*args, results))
    child.start()
    while True:  # a child that dies puts nothing on the queue: do not wait for it forever
        try:
            answer = results.get(timeout=5)
            break
        except queue.Empty:
            if not child.is_alive():
                raise RuntimeError(f"{target.__name__} died with exit code {child.exitcode}") from None
    child.join()
    if child.exitcode != 0:
        raise RuntimeError(f"{target.__name__} failed with exit code {child.exitcode}")
    return answer


def disk_bytes(location: str) -> int:
    paths = [Path(location), Path(location + ".lookalike")]
    return sum(file.stat().st_size for path in paths if path.exists() for file in path.rglob("*") if file.is_file())


def measure(location: str, kind: str, vectors_path: Path, queries_path: Path, truth: np.ndarray, args) -> dict:
    result = in_child(fill, location, kind, str(vectors_path), str(queries_path), args.chunk)
    result |= in_child(reopen_and_search, location, str(queries_path))
    queries = np.load(queries_path)
    with store_kind_for(location).open(location, True) as store:
        store.search(queries[:10], 10)  # warm
        rounds = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            hits = store.search(queries, 10)
            rounds.append(time.perf_counter() - started)
        latencies = []
        for query in queries[:args.latency_queries]:
            started = time.perf_counter()
            store.search(query[None, :], 10)
            latencies.append(time.perf_counter() - started)
    found = np.array([[int(hit.image.path[7:15]) for hit in row] + [-1] * (10 - len(row)) for row in hits])
    result |= {"qps": len(queries) / statistics.median(rounds), "latency_ms": 1000 * statistics.median(latencies),
               "recall": recall_at(found, truth), "disk": disk_bytes(location)}
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1_000_000, help="vectors stored")
    parser.add_argument("--dim", type=int, default=256)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--index", default="hnsw", help="index kind in both stores (flat, hnsw, ivf)")
    parser.add_argument("--chunk", type=int, default=10_000, help="images per add call")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--latency-queries", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    record.add_record_options(parser)
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="store-scale-"))
    try:
        base, queries = clustered(args.n, args.queries, args.dim, clusters=max(10, args.n // 1000), spread=0.6,
                                  decay=0.6, seed=args.seed)
        np.save(work / "base.npy", base)
        np.save(work / "queries.npy", queries)
        exact = faiss.IndexFlatIP(args.dim)
        exact.add(base)
        _, truth = exact.search(queries, 10)
        del exact, base
        results = {}
        for name, file_name in STORES.items():
            print(f"{name}: filling {args.n:,} vectors ...", file=sys.stderr, flush=True)
            results[name] = measure(str(work / file_name), args.index, work / "base.npy", work / "queries.npy",
                                    truth, args)
            print(f"  {results[name]}", file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    lines = [
        f"{args.n:,} clustered {args.dim}-d unit vectors, index `{args.index}` in both stores, through lookalike's "
        f"`GalleryStore` API; {args.chunk:,} images per `add`, one `commit`; {args.queries} queries, k = 10.",
        "",
        "| store | insert (vectors/s) | first query after the insert | open + first query, new process | QPS "
        "(batch) | latency (one query) | recall@10 | peak RSS of the filling process | on disk |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, result in results.items():
        lines.append(
            f"| {name} | {args.n / result['insert_s']:,.0f} | {result['first_query_s'] * 1000:,.0f} ms | "
            f"{result['reopen_query_s']:.2f} s | {result['qps']:,.0f} | {result['latency_ms']:.2f} ms | "
            f"{result['recall']:.3f} | {result['peak_rss'] / 2**30:.2f} GiB | {result['disk'] / 2**30:.2f} GiB |")
    folder, milvus = results["folder (FAISS + SQLite)"], results["Milvus Lite"]
    lines += ["", f"Milvus Lite against the folder store, same run: insert rate × "
                  f"{folder['insert_s'] / milvus['insert_s']:.2f}, QPS × {milvus['qps'] / folder['qps']:.2f}, "
                  f"peak memory × {milvus['peak_rss'] / folder['peak_rss']:.2f}."]
    record.publish(f"Gallery stores at {args.n:,} vectors: folder against Milvus Lite", lines, args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
