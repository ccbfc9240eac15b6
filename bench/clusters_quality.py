"""Clusters of unlabelled photos against their folder labels: lookalike's `clusters` (HDBSCAN over the neighbour
graph) against DBSCAN at Immich's face-clustering defaults, on the same vectors, in one run.

Two collections, each indexed into a fresh gallery:
- faces: the shared LFW subset (79 people) with dlib's face encoder (`--backbone dlib-face`), which was not trained
  on LFW; every face found is indexed and clustered, and each photo's largest face is scored against the photo's
  folder (the other faces are bystanders whose names LFW does not give);
- photos: the shared flowers (5 kinds) with the default start (EfficientNet-Lite0's ImageNet features).

Scores are BCubed precision, recall and F (Amigó et al. 2009) over the scored items, an item in no cluster counting
as a cluster of its own. Immich clusters faces with DBSCAN at a maximum cosine distance of 0.5 and at least 3 faces
(its defaults, set for its own face model); that runs here on the vectors lookalike stored, through scikit-learn, and
so does DBSCAN at the line dlib draws for its encoder (Euclidean distance 0.6), a fairer peer on dlib's vectors.

    .venv/bin/python bench/clusters_quality.py --faces ../shared/data/lfw_deepfunneled_subset \\
        --photos ../shared/data/flowers_recognition --out /tmp/cq --record
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from pathlib import Path

import numpy as np
import record
from sklearn.cluster import DBSCAN

import lookalike
from lookalike.embed import EmbedSettings
from lookalike.workspace import open_store

LARGEST_FACE = "face 0 "


def bcubed(clusters: list[str], truth: list[str]) -> tuple[float, float, float]:
    """BCubed precision, recall and F of an assignment (each item's cluster key) against the true classes."""
    pairs = Counter(zip(clusters, truth))
    sizes, classes = Counter(clusters), Counter(truth)
    precision = float(np.mean([pairs[c, t] / sizes[c] for c, t in zip(clusters, truth)]))
    recall = float(np.mean([pairs[c, t] / classes[t] for c, t in zip(clusters, truth)]))
    return precision, recall, 2 * precision * recall / (precision + recall)


def measure(name: str, folder: Path, gallery: Path, model, min_size: int) -> list[str]:
    settings = EmbedSettings(workers=0)
    with lookalike.open(gallery, model, settings=settings) as session:
        started = time.perf_counter()
        session.index(folder)
        indexed = time.perf_counter()
        report = session.clusters(min_size=min_size)
        clustered = time.perf_counter()
    with open_store(gallery, read_only=True) as store:
        images = store.images()
        vectors = store.vectors([image.id for image in images])
    key = {image.id: cluster.key for cluster in report.clusters for image in cluster.images}
    scored = [i for i, image in enumerate(images) if not image.region or image.region.startswith(LARGEST_FACE)]
    truth = [images[i].label or "" for i in scored]
    ours = [key.get(images[i].id, f"noise {images[i].id}") for i in scored]
    methods = [(f"lookalike `clusters` (HDBSCAN, at least {min_size})", ours, clustered - indexed)]
    for eps, what in ((0.5, "Immich's defaults (cosine distance 0.5, at least 3)"),
                      (0.18, "dlib's own line (Euclidean 0.6 between unit vectors: cosine distance 0.18, at least 3)")):
        started_dbscan = time.perf_counter()
        labels = DBSCAN(eps=eps, min_samples=3, metric="cosine").fit(vectors).labels_
        methods.append((f"DBSCAN at {what}", [str(labels[i]) if labels[i] >= 0 else f"noise {i}" for i in scored],
                        time.perf_counter() - started_dbscan))
    rows = []
    for method, assignment, seconds in methods:
        precision, recall, f = bcubed(assignment, truth)
        found = len({a for a in assignment if not a.startswith("noise")})
        noise = sum(a.startswith("noise") for a in assignment) / len(assignment)
        rows.append(f"| {name} | {method} | {precision:.3f} | {recall:.3f} | **{f:.3f}** | {found} "
                    f"({len(set(truth))} true) | {noise:.1%} | {seconds:.1f} s |")
    print(f"{name}: {len(images)} stored, {len(scored)} scored, indexed in {indexed - started:.0f} s", flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--faces", type=Path, help="folder of people's photos, one sub-folder each (LFW)")
    parser.add_argument("--photos", type=Path, help="folder of photos, one sub-folder per kind (flowers)")
    parser.add_argument("--out", type=Path, required=True, help="scratch folder for the galleries (must not exist)")
    parser.add_argument("--min-size", type=int, default=3)
    record.add_record_options(parser)
    args = parser.parse_args()
    rows = []
    if args.faces:
        face_model = lookalike.create_model(lookalike.EncoderConfig.for_backbone("dlib-face"))
        rows += measure(f"faces: {args.faces.name}, dlib-face", args.faces, args.out / "faces", face_model,
                        args.min_size)
    if args.photos:
        rows += measure(f"photos: {args.photos.name}, default start", args.photos, args.out / "photos", None,
                        args.min_size)
    lines = ["| collection | method | BCubed precision | BCubed recall | BCubed F | clusters | noise | clustering "
             "time |", "|---|---|---|---|---|---|---|---|", *rows]
    record.publish("Clusters against folder labels, against DBSCAN at Immich's defaults (issue #20)", lines, args)


if __name__ == "__main__":
    main()
