"""Do a folder gallery and a Milvus Lite gallery of the same model answer alike? Issue #21's gate, through the CLI.

The photos of FOLDER are split: ``--held-out`` of them are never indexed and become the queries. The rest are indexed
with `lookalike index` into a folder gallery (the default start), then into ``g.db`` with that gallery's model;
each gallery is searched with `lookalike search -k 5 --json` in a process of its own, and the top 5 of every query
compared: the paths in order, and the largest difference between the two stores' scores.

    .venv/bin/python bench/store_agreement.py ../shared/data/flowers_recognition --record
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from record import add_record_options, publish

from lookalike.data import find_images


def lookalike(*args: object) -> str:
    done = subprocess.run([sys.executable, "-m", "lookalike", *map(str, args)], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"lookalike {' '.join(map(str, args))} failed: {done.stderr}")
    return done.stdout


def top5(gallery: Path, queries: Path) -> dict[str, list[tuple[str, float]]]:
    found = json.loads(lookalike("search", queries, "--gallery", gallery, "-k", "5", "--json"))
    return {result["query"]: [(hit["path"], hit["score"]) for hit in result["hits"]] for result in found["results"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--held-out", type=int, default=150, help="photos never indexed, searched for")
    parser.add_argument("--seed", type=int, default=0)
    add_record_options(parser)
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="store-agreement-"))
    try:
        photos = find_images(args.folder.resolve())
        random.Random(args.seed).shuffle(photos)
        for place, chosen in (("queries", photos[:args.held_out]), ("indexed", photos[args.held_out:])):
            for number, path in enumerate(chosen):
                (work / place / path.parent.name).mkdir(parents=True, exist_ok=True)
                os.symlink(path, work / place / path.parent.name / f"{number:05d}{path.suffix}")
        lookalike("index", work / "indexed", "--gallery", work / "folder")
        lookalike("index", work / "indexed", "--gallery", work / "g.db", "--model", work / "folder" / "model")
        on_folder, on_milvus = top5(work / "folder", work / "queries"), top5(work / "g.db", work / "queries")
    finally:
        shutil.rmtree(work, ignore_errors=True)

    same = sum([path for path, _ in on_folder[query]] == [path for path, _ in on_milvus.get(query, [])]
               for query in on_folder)
    differ = [query for query in on_folder
              if [path for path, _ in on_folder[query]] != [path for path, _ in on_milvus.get(query, [])]]
    for query in differ:  # what differs, so that a near-tie can be told from a wrong answer
        print(f"{query}:\n  folder {on_folder[query]}\n  milvus {on_milvus[query]}", file=sys.stderr)
    gap = max(abs(a[1] - b[1]) for query in on_folder for a, b in zip(on_folder[query], on_milvus[query]))
    indexed = len(photos) - args.held_out
    lines = [
        f"{indexed} flower photos indexed with `lookalike index` (default start) into a folder gallery and into "
        f"`g.db` (Milvus Lite, the same model); {args.held_out} photos never indexed searched with `lookalike search "
        f"-k 5 --json`, each command a process of its own.",
        "",
        f"Same top 5, in the same order: {same} of {len(on_folder)} queries. Largest difference between the two "
        f"stores' scores: {gap:.2g}.",
    ]
    publish("Folder gallery against Milvus Lite: the same answers", lines, args)
    return 0 if same == len(on_folder) else 1


if __name__ == "__main__":
    raise SystemExit(main())
