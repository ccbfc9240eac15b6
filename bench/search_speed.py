"""Search speed: lookalike's gallery against raw FAISS on the same index type, on clustered 256-d unit vectors.

Data: ``--clusters`` Gaussian clusters around random unit centres; a point is its centre plus Gaussian noise whose
spread falls off across dimensions like i^-decay (real embeddings have a lower effective dimension than 256), then
normalised. Queries are fresh points from the same clusters. The exact top-k (raw ``IndexFlatIP``) is the truth
that recall@k is measured against.

For each index kind (flat = exact, hnsw and ivf = approximate):

- raw FAISS: the index type and parameters lookalike uses (``IndexFlatIP``; ``IndexHNSWFlat`` with lookalike's M,
  efConstruction and efSearch; ``IndexIVFFlat`` with lookalike's list count and nprobe), built from the vectors in
  this process;
- lookalike: ``Gallery.create`` + ``add`` (synthetic ``ImageRecord`` rows, ``--chunk`` at a time) + ``commit`` in a
  child process (the ingest, timed apart from search; ``ivf`` is rebuilt once every vector is in, since it trains
  on the first chunk), then ``Gallery.open(read_only=True).search`` here.

Both answer the same queries: all in one batch (``Gallery.search`` takes a batch and asks FAISS once), alternately
``--repeat`` times so machine noise hits both alike, and one query per call for the first ``--latency-queries``.
The flat index and gallery stay open and are searched again in each approximate kind's rounds, so "QPS ÷ exact QPS"
compares times taken under the same load. Memory is the growth of this process's resident set when the index is
built (raw) or the gallery opened (lookalike), and the size of the index file. ``--sweep`` adds raw FAISS's recall
and QPS over a range of efSearch / nprobe, on the same index.

    .venv/bin/python bench/search_speed.py --n 20000            # a quick check, well under a minute
    .venv/bin/python bench/search_speed.py --sweep --record      # 1 M vectors; appends the tables to BENCHMARKS.md

At 1 M vectors on 2 cores the run takes 15 to 25 minutes (building HNSW and training IVF, twice each) and needs
about 11 GB of memory at its peak (this process and the ingesting child together).
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import faiss
import numpy as np
import record

from lookalike.gallery import Gallery, ImageRecord
from lookalike.gallery.vector_index import HNSW_BUILD_EFFORT, HNSW_NEIGHBOURS, SearchEffort, ivf_list_count

MODEL_ID = "bench-search-speed"
KINDS = ("flat", "hnsw", "ivf")


# ---------------------------------------------------------------------------------------------------------- data


def clustered(n: int, queries: int, dim: int, clusters: int, spread: float, decay: float,
              seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` base and ``queries`` query unit vectors (float32) drawn from the same seeded Gaussian clusters."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, dim), dtype=np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    scale = np.arange(1, dim + 1, dtype=np.float32) ** -decay
    scale *= spread / np.linalg.norm(scale)  # the noise vector's expected length is `spread`

    def draw(count: int) -> np.ndarray:
        out = np.empty((count, dim), dtype=np.float32)
        for start in range(0, count, 100_000):  # in slices: no 1 M × 256 temporaries besides the result
            stop = min(start + 100_000, count)
            part = centres[rng.integers(0, clusters, stop - start)]
            part += rng.standard_normal((stop - start, dim), dtype=np.float32) * scale
            part /= np.linalg.norm(part, axis=1, keepdims=True)
            out[start:stop] = part
        return out

    return draw(n), draw(queries)


def recall_at(found: np.ndarray, truth: np.ndarray) -> float:
    """Mean share of each query's true top-k among its k results (-1 pads count as misses)."""
    k = truth.shape[1]
    hits = sum(len(np.intersect1d(row, true_row[true_row >= 0])) for row, true_row in zip(found, truth))
    return hits / (len(truth) * k)


# ---------------------------------------------------------------------------------------------------------- memory


def rss_bytes() -> int:
    """This process's resident set size now, from /proc/self/status (VmRSS)."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def peak_rss_bytes(who: int = resource.RUSAGE_SELF) -> int:
    return resource.getrusage(who).ru_maxrss * 1024


# ---------------------------------------------------------------------------------------------------------- raw FAISS


def raw_index(kind: str, base: np.ndarray, effort: SearchEffort) -> faiss.Index:
    """What one writes with FAISS alone for this kind, with the parameters lookalike uses."""
    dim = base.shape[1]
    if kind == "flat":
        index = faiss.IndexFlatIP(dim)
    elif kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, HNSW_NEIGHBOURS, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_BUILD_EFFORT
        index.hnsw.efSearch = effort.ef_search
    else:
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, ivf_list_count(len(base)), faiss.METRIC_INNER_PRODUCT)
        index.train(base)
        index.nprobe = effort.nprobe
    index.add(base)
    return index


def index_file_bytes(index: faiss.Index, folder: Path) -> int:
    path = folder / "raw.faiss"
    faiss.write_index(index, str(path))
    size = path.stat().st_size
    path.unlink()
    return size


# ---------------------------------------------------------------------------------------------------------- lookalike


def ingest(folder: str, kind: str, vectors_path: str, chunk: int, effort: SearchEffort, threads: int | None,
           results) -> None:
    """Child process: fill a new gallery of ``kind`` with the saved vectors through the public API, and time it."""
    if threads:
        faiss.omp_set_num_threads(threads)
    base = np.load(vectors_path, mmap_mode="r")
    timings = {}
    started = time.perf_counter()
    gallery = Gallery.create(folder, model_id=MODEL_ID, dim=base.shape[1], index=kind,
                             ef_search=effort.ef_search, nprobe=effort.nprobe)
    first_id = None
    with gallery:
        for start in range(0, len(base), chunk):
            stop = min(start + chunk, len(base))
            records = [ImageRecord(path=f"/bench/{i:08d}.jpg", size=1, mtime_ns=0, sha256="0" * 64)
                       for i in range(start, stop)]
            ids = gallery.add(records, np.asarray(base[start:stop]), model_id=MODEL_ID)
            first_id = ids[0] if first_id is None else first_id
            if ids != list(range(first_id + start, first_id + stop)):
                raise RuntimeError("gallery ids are not consecutive: the recall mapping below would be wrong")
        timings["add"] = time.perf_counter() - started
        if kind == "ivf":  # it trained on the first chunk alone; retrain on everything, as a user would
            rebuilt = time.perf_counter()
            gallery.rebuild("ivf")
            timings["rebuild"] = time.perf_counter() - rebuilt
        committed = time.perf_counter()
        gallery.commit()
        timings["commit"] = time.perf_counter() - committed
    timings["total"] = time.perf_counter() - started
    timings["first_id"] = first_id
    timings["peak_rss"] = peak_rss_bytes()
    results.put(timings)


def build_gallery(folder: Path, kind: str, vectors_path: Path, chunk: int, effort: SearchEffort,
                  threads: int | None) -> dict:
    """Run ``ingest`` in a fresh process (spawned, not forked: OpenMP does not survive a fork) and return its times."""
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    child = context.Process(target=ingest, args=(str(folder), kind, str(vectors_path), chunk, effort, threads, results))
    child.start()
    timings = results.get()
    child.join()
    if child.exitcode != 0:
        raise RuntimeError(f"ingest of {kind} failed with exit code {child.exitcode}")
    return timings


# ---------------------------------------------------------------------------------------------------------- timing


@dataclass
class Measured:
    """One path (raw FAISS or lookalike) on one index kind."""

    build_s: float
    memory: int  # RSS growth, bytes
    file_bytes: int
    batch_s: list[float] = field(default_factory=list)
    latency_s: list[float] = field(default_factory=list)
    recall: float = float("nan")
    extra: dict = field(default_factory=dict)

    @property
    def batch(self) -> float:
        return statistics.median(self.batch_s)


def timed(fn, *args, **kwargs):
    started = time.perf_counter()
    result = fn(*args, **kwargs)
    return time.perf_counter() - started, result


def gallery_ids(hits, first_id: int, k: int) -> np.ndarray:
    """The hits as an (n, k) array of base-vector positions, -1 where fewer than k came back."""
    out = np.full((len(hits), k), -1, dtype=np.int64)
    for row, query_hits in enumerate(hits):
        for column, hit in enumerate(query_hits):
            out[row, column] = hit.image.id - first_id
    return out


def build_both(kind: str, base: np.ndarray, args, scratch: Path,
               vectors_path: Path) -> tuple[faiss.Index, Measured, Gallery, Measured, Path]:
    """Raw FAISS's index built here, and lookalike's gallery ingested in a child process and opened read-only."""
    effort = SearchEffort(args.ef_search, args.nprobe)
    before = rss_bytes()
    build_s, raw = timed(raw_index, kind, base, effort)
    raw_m = Measured(build_s, rss_bytes() - before, index_file_bytes(raw, scratch))
    print(f"  {kind}: raw FAISS built in {build_s:.1f} s", flush=True)

    folder = scratch / f"gallery-{kind}"
    timings = build_gallery(folder, kind, vectors_path, args.chunk, effort, args.threads)
    print(f"  {kind}: lookalike ingest {timings['total']:.1f} s", flush=True)
    before = rss_bytes()
    open_s, gallery = timed(Gallery.open, folder, read_only=True)
    ours = Measured(timings["total"], rss_bytes() - before,
                    sum(path.stat().st_size for path in folder.glob("vectors-*.faiss")))
    ours.extra = {**timings, "open": open_s, "sqlite_bytes": (folder / "gallery.sqlite").stat().st_size,
                  "rss_before_open": before}
    return raw, raw_m, gallery, ours, folder


def search_both(raw: faiss.Index, raw_m: Measured, gallery: Gallery, ours: Measured, queries: np.ndarray,
                truth: np.ndarray, args, exact: tuple[faiss.Index, Gallery] | None) -> None:
    """Time both paths on the same queries, alternating; with ``exact`` (raw flat index, flat gallery), time those
    in the same rounds, so that the approximate kinds' QPS ÷ exact QPS compares times taken under the same load."""
    k = args.k
    raw.search(queries[:10], k)  # warm-up: first touches of the index pages
    gallery.search(queries[:10], k)
    for _ in range(args.repeat):
        seconds, (_, raw_ids) = timed(raw.search, queries, k)
        raw_m.batch_s.append(seconds)
        seconds, hits = timed(gallery.search, queries, k)
        ours.batch_s.append(seconds)
        if exact is not None:
            raw_m.extra.setdefault("exact_s", []).append(timed(exact[0].search, queries, k)[0])
            ours.extra.setdefault("exact_s", []).append(timed(exact[1].search, queries, k)[0])
    raw_m.recall = recall_at(raw_ids, truth)
    ours.recall = recall_at(gallery_ids(hits, ours.extra["first_id"], k), truth)
    for query in queries[: args.latency_queries]:
        one = query[None, :]
        raw_m.latency_s.append(timed(raw.search, one, k)[0])
        ours.latency_s.append(timed(gallery.search, one, k)[0])
    ours.memory = max(ours.memory, rss_bytes() - ours.extra["rss_before_open"])  # and what searching added


def sweep(kind: str, index: faiss.Index, queries: np.ndarray, truth: np.ndarray, k: int) -> list[str]:
    """Recall@k and QPS of raw FAISS over a range of search efforts, to justify lookalike's defaults."""
    name, values = ("efSearch", (16, 32, 48, 64, 96, 128, 192, 256)) if kind == "hnsw" else (
        "nprobe", (1, 2, 4, 8, 16, 32, 64))
    lines = [f"Sweep of {kind} {name}: raw FAISS, the index above, one batch of {len(queries):,} queries, k = {k}.",
             "", f"| {name} | recall@{k} | QPS |", "|---|---|---|"]
    for value in values:
        params = (faiss.SearchParametersHNSW(efSearch=max(value, k)) if kind == "hnsw"
                  else faiss.SearchParametersIVF(nprobe=value))
        index.search(queries[:10], k, params=params)
        seconds, (_, found) = timed(partial(index.search, queries, k, params=params))
        lines.append(f"| {value} | {recall_at(found, truth):.4f} | {len(queries) / seconds:,.0f} |")
        print("  " + lines[-1], flush=True)
    return lines + [""]


# ---------------------------------------------------------------------------------------------------------- report


def mib(count: int) -> str:
    return f"{count / 2**20:,.0f} MiB"


def exact_qps_ratio(measured: Measured) -> float:
    """QPS ÷ the same path's exact QPS, both from the same alternating rounds."""
    return statistics.median(measured.extra["exact_s"]) / measured.batch


def table(results: dict[str, tuple[Measured, Measured]], args, nq: int, exact_s: float) -> list[str]:
    k = args.k
    lines = [
        f"{args.n:,} vectors × {args.dim}-d ({args.clusters} Gaussian clusters, spread {args.spread}, "
        f"decay {args.decay}, seed {args.seed}); {nq:,} queries, k = {k}; FAISS threads "
        f"{faiss.omp_get_max_threads()}; batch: median of {args.repeat}, alternating; one-at-a-time: the first "
        f"{args.latency_queries} queries; hnsw M = {HNSW_NEIGHBOURS}, efConstruction = {HNSW_BUILD_EFFORT}, "
        f"efSearch = {args.ef_search}; ivf nlist = {ivf_list_count(args.n)}, nprobe = {args.nprobe}. "
        f"Ground truth: raw IndexFlatIP ({exact_s:.1f} s).",
        "",
        f"| index | path | build / ingest | batch QPS | one-at-a-time ms (median) | recall@{k} | "
        "lookalike overhead | QPS ÷ exact QPS | RSS growth | index file |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    exact = dict(zip(("raw", "lookalike"), results["flat"])) if "flat" in results else {}
    for kind, (raw, ours) in results.items():
        for name, measured in (("raw", raw), ("lookalike", ours)):
            if name == "raw":
                build, overhead = f"{raw.build_s:.1f} s", ""
            else:
                steps = ", ".join(f"{step} {ours.extra[step]:.0f} s"
                                  for step in ("add", "rebuild", "commit") if step in ours.extra)
                build = f"{ours.build_s:.0f} s ({steps})"
                overhead = f"{100 * (ours.batch / raw.batch - 1):+.1f} %"
            speedup = "1×" if kind == "flat" else f"{exact_qps_ratio(measured):.1f}×" if exact else "n/a"
            lines.append(
                f"| {kind} | {'raw FAISS' if name == 'raw' else 'lookalike'} | {build} | {nq / measured.batch:,.0f} | "
                f"{1000 * statistics.median(measured.latency_s):.3f} | {measured.recall:.4f} | {overhead} | "
                f"{speedup} | {mib(measured.memory)} | {mib(measured.file_bytes)} |"
            )
    if exact:
        overhead = 100 * (exact["lookalike"].batch / exact["raw"].batch - 1)
        verdicts = [f"Targets (set for 1 M vectors): lookalike's exact overhead {overhead:+.1f} % "
                    f"(≤ 10 %: {'met' if overhead <= 10 else 'not met'})"]
        for kind, (_, ours) in results.items():
            if kind != "flat":
                ratio = exact_qps_ratio(ours)
                met = ratio >= 20 and ours.recall >= 0.95
                verdicts.append(f"lookalike {kind} {ratio:.1f}× the exact QPS at recall@{k} {ours.recall:.3f} "
                                f"(≥ 20× at ≥ 0.95: {'met' if met else 'not met'})")
        lines += ["", "; ".join(verdicts) + "."]
    notes = [f"{kind}: open {ours.extra['open']:.1f} s, gallery.sqlite {mib(ours.extra['sqlite_bytes'])}, ingest "
             f"process peak RSS {mib(ours.extra['peak_rss'])}" for kind, (_, ours) in results.items()]
    lines += ["", "lookalike: " + "; ".join(notes) + f". This process's peak RSS {mib(peak_rss_bytes())}."]
    return lines


# ---------------------------------------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1_000_000, help="vectors in the gallery")
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--threads", type=int, default=None, help="FAISS (OpenMP) threads; default: FAISS's own")
    parser.add_argument("--kinds", default=",".join(KINDS), help="comma-separated index kinds to measure")
    parser.add_argument("--dim", type=int, default=256)
    parser.add_argument("--clusters", type=int, default=1000)
    parser.add_argument("--spread", type=float, default=1.0, help="length of a point's noise before normalising")
    parser.add_argument("--decay", type=float, default=0.5, help="noise spread of dimension i ∝ i^-decay; 0: isotropic")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--ef-search", type=int, default=SearchEffort.ef_search, help="HNSW efSearch (both paths)")
    parser.add_argument("--nprobe", type=int, default=SearchEffort.nprobe, help="IVF nprobe (both paths)")
    parser.add_argument("--repeat", type=int, default=3, help="batch searches per path, alternating")
    parser.add_argument("--latency-queries", type=int, default=100, help="queries searched one per call")
    parser.add_argument("--chunk", type=int, default=100_000, help="records per Gallery.add")
    parser.add_argument("--sweep", action="store_true", help="also sweep raw FAISS efSearch / nprobe")
    parser.add_argument("--scratch", type=Path, default=None, help="where galleries are built (default: a temp dir)")
    record.add_record_options(parser)
    args = parser.parse_args()
    kinds = {kind.strip() for kind in args.kinds.split(",") if kind.strip()}
    if unknown := kinds - set(KINDS):
        parser.error(f"unknown kinds {sorted(unknown)}")
    kinds = [kind for kind in KINDS if kind in kinds]  # flat first: the others are compared with it
    if args.threads:
        faiss.omp_set_num_threads(args.threads)

    print(record.describe_machine(), f"commit {record.commit()}", sep="; ", flush=True)
    started = time.perf_counter()
    base, queries = clustered(args.n, args.queries, args.dim, args.clusters, args.spread, args.decay, args.seed)
    print(f"data: {time.perf_counter() - started:.1f} s", flush=True)
    exact_s, (_, truth) = timed(lambda: raw_index("flat", base, SearchEffort()).search(queries, args.k))
    print(f"ground truth: {exact_s:.1f} s", flush=True)

    results, sweeps, exact = {}, [], None
    with tempfile.TemporaryDirectory(dir=args.scratch, prefix="search-speed-") as scratch:
        vectors_path = Path(scratch) / "base.npy"
        np.save(vectors_path, base)
        for kind in kinds:
            raw, raw_m, gallery, ours, folder = build_both(kind, base, args, Path(scratch), vectors_path)
            search_both(raw, raw_m, gallery, ours, queries, truth, args, exact)
            results[kind] = (raw_m, ours)
            if args.sweep and kind != "flat":
                sweeps += sweep(kind, raw, queries, truth, args.k)
            if kind == "flat":
                exact = (raw, gallery)  # kept open, and searched again beside each approximate kind
            else:
                gallery.close()
                shutil.rmtree(folder)
            del raw
        if exact is not None:
            exact[1].close()

    lines = table(results, args, len(queries), exact_s)
    if sweeps:
        lines += [""] + sweeps[:-1]
    print()
    record.publish("Search speed (issue #6 c)", lines, args)


if __name__ == "__main__":
    sys.exit(main())
