"""Ray Data indexing against plain `index` on the same machine: what Ray costs when it brings no extra machines.

Both index the same photos with the default start (EfficientNet-Lite0, ImageNet weights) into new folder galleries:
the plain engine decodes in worker processes and embeds in this one; the Ray engine runs on a local Ray with this
machine's cores (started once, before the timed runs, and timed apart), one embedding actor. Rounds alternate the
two so that machine noise hits both alike. The galleries are then compared: the largest difference between the
vectors of one file, and whether every query photo's top 5 is the same.

    .venv/bin/python bench/ray_overhead.py ../shared/data/flowers_recognition --images 600 --record
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from record import add_record_options, publish

import lookalike
from lookalike.data import find_images
from lookalike.model import create_model
from lookalike.models.starts import default_start


def index_once(photos: Path, gallery: Path, model, engine: str) -> float:
    shutil.rmtree(gallery, ignore_errors=True)
    started = time.perf_counter()
    with lookalike.open(gallery, model) as session:
        report = session.index(photos, engine=engine)
    if report.skipped:
        raise RuntimeError(f"{engine}: {len(report.skipped)} files skipped")
    return time.perf_counter() - started


def stored_vectors(gallery: Path) -> tuple[list[str], np.ndarray]:
    with lookalike.open(gallery) as session:
        store = session._store()
        images = sorted(store.images(), key=lambda image: image.path)
        return [image.path for image in images], store.vectors([image.id for image in images])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--images", type=int, default=600, help="photos drawn from FOLDER")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    add_record_options(parser)
    args = parser.parse_args(argv)

    import ray

    work = Path(tempfile.mkdtemp(prefix="ray-overhead-"))
    try:
        photos = work / "photos"
        chosen = random.Random(args.seed).sample(find_images(args.folder.resolve()), args.images)
        for number, path in enumerate(chosen):
            (photos / path.parent.name).mkdir(parents=True, exist_ok=True)
            os.symlink(path, photos / path.parent.name / f"{number:05d}{path.suffix}")
        start = default_start()
        model = create_model(start.config, weights=start.weights)
        started = time.perf_counter()
        ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False, logging_level="ERROR")
        ray_start = time.perf_counter() - started
        times: dict[str, list[float]] = {"local": [], "ray": []}
        for _ in range(args.rounds):
            for engine in times:
                times[engine].append(index_once(photos, work / engine, model, engine))
                print(f"{engine}: {times[engine][-1]:.1f} s", flush=True)
        paths, plain = stored_vectors(work / "local")
        ray_paths, on_ray = stored_vectors(work / "ray")
        assert paths == ray_paths
        queries = [Path(path) for path in random.Random(args.seed + 1).sample(paths, args.queries)]
        answers = []
        for engine in times:
            with lookalike.open(work / engine) as session:
                found = session.search_all(queries, k=5, exclude_self=True)
                answers.append([[hit.path for hit in result.hits] for result in found.results])
        same = answers[0] == answers[1]
    finally:
        ray.shutdown()
        shutil.rmtree(work, ignore_errors=True)

    local, on_cluster = statistics.median(times["local"]), statistics.median(times["ray"])
    lines = [
        f"{args.images} flower photos, default start ({start.describe()}), new folder gallery each run, "
        f"{args.rounds} alternating rounds (median); Ray on this machine's {os.cpu_count()} cores, one embedding "
        f"actor; `ray.init` took {ray_start:.1f} s before the timed runs.",
        "",
        "| engine | seconds | images/s |",
        "|---|---:|---:|",
        f"| plain (`--engine local`) | {local:.1f} | {args.images / local:.1f} |",
        f"| Ray Data (`--engine ray`) | {on_cluster:.1f} | {args.images / on_cluster:.1f} |",
        "",
        f"Ray's overhead on one machine: {on_cluster / local:.2f}× the plain engine's time. The two galleries: the "
        f"largest difference between one file's vectors {np.abs(plain - on_ray).max():.2g}; top 5 of "
        f"{args.queries} query photos (themselves left out) {'identical' if same else 'DIFFERENT'}.",
    ]
    publish("Ray Data indexing against plain index", lines, args)
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
