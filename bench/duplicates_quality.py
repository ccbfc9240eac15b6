"""Near-duplicates among real photos with planted copies: lookalike's `duplicates` against imagededup, in one run.

Photos are drawn from a folder (say the shared flowers) and copied into a scratch folder. Some of them get planted
copies, edited the ways `lookalike.collection.variants` knows (saved again as a JPEG, resized, trimmed, re-exposed,
softened), drawn with another seed than the one lookalike measures its levels with. Others get a reframed copy (a
large crop, a slight turn, other light): similar, but not a duplicate. Then:

- lookalike: `index` with the default start (no --model), then `duplicates` at its measured level;
- imagededup's perceptual hash (PHash, its default Hamming distance 10), and its CNN method where its weights can
  be loaded offline.

Scores, per method:
- recall: the share of planted pairs (original with copy, and two copies of one original) that are reported;
- precision: of the reported pairs that involve a planted copy, the share that are planted pairs;
- reframes reported: the share of reframed copies reported as a duplicate of their original (lower is better);
- pairs among untouched photos: reported pairs between two of the drawn photos (the shared sets hold a few real
  duplicates, so not all are wrong).

    .venv-bench/bin/python bench/duplicates_quality.py ../shared/data/flowers_recognition --out /tmp/dq --record

The photos and copies are drawn with each of `--seeds`; lookalike measures its levels with its own fixed seed.
"""

from __future__ import annotations

import argparse
import itertools
import resource
import shutil
import time
from pathlib import Path

import numpy as np
import record
from PIL import Image

import lookalike
from lookalike.collection.variants import DUPLICATE_KINDS, make_variant
from lookalike.data import decode_rgb, find_images

Pair = frozenset[str]


def plant(photos: list[Path], out: Path, planted: int, reframed: int, seed: int) -> tuple[set[Pair], set[Pair]]:
    """Copy `photos` into `out` as o-NNNN, with edited copies c-NNNN-k of the first `planted` and a reframed copy
    r-NNNN of the next `reframed`. Returns the planted pairs and the (original, reframe) pairs, by file name."""
    rng = np.random.default_rng(seed + 1000)  # not the seed lookalike measures its levels with
    out.mkdir(parents=True)
    truth: set[Pair] = set()
    reframes: set[Pair] = set()
    kinds = list(DUPLICATE_KINDS)
    for number, source in enumerate(photos):
        original = f"o-{number:04d}{source.suffix.lower()}"
        shutil.copyfile(source, out / original)
        if number < planted + reframed:
            image = Image.fromarray(decode_rgb(source))
        if number < planted:
            copies = [original]
            for k, kind in enumerate(rng.choice(kinds, size=1 + int(rng.random() < 0.3), replace=False)):
                name = f"c-{number:04d}-{k}.jpg"
                make_variant(image, str(kind), rng).save(out / name, quality=90)
                copies.append(name)
            truth |= {frozenset(pair) for pair in itertools.combinations(copies, 2)}
        elif number < planted + reframed:
            name = f"r-{number:04d}.jpg"
            make_variant(image, "reframe", rng).save(out / name, quality=90)
            reframes.add(frozenset((original, name)))
    return truth, reframes


def scores(reported: set[Pair], truth: set[Pair], reframes: set[Pair]) -> dict[str, float]:
    involving_copies = {pair for pair in reported if any(name.startswith("c-") for name in pair)}
    return {
        "recall": len(reported & truth) / len(truth),
        "precision": len(involving_copies & truth) / len(involving_copies) if involving_copies else float("nan"),
        "reframes": len(reported & reframes) / len(reframes) if reframes else float("nan"),
        "originals": sum(all(name.startswith("o-") for name in pair) for pair in reported),
        "pairs": len(reported),
    }


def lookalike_pairs(folder: Path, gallery: Path) -> tuple[set[Pair], dict[str, object]]:
    started = time.perf_counter()
    with lookalike.open(gallery) as session:
        session.index(folder)
        indexed = time.perf_counter()
        report = session.duplicates()
        done = time.perf_counter()
    pairs = {frozenset((Path(a.path).name, Path(b.path).name))
             for group in report.groups for a, b in itertools.combinations(group.images, 2)}
    assert report.levels is not None
    return pairs, {"index_s": indexed - started, "duplicates_s": done - indexed,
                   "levels": report.levels.describe(), "model": session.started_with or "the gallery's"}


def imagededup_pairs(folder: Path, method: str) -> tuple[set[Pair], dict[str, object]]:
    from imagededup import methods

    started = time.perf_counter()
    finder = getattr(methods, method)()
    found = finder.find_duplicates(image_dir=str(folder))
    pairs = {frozenset((name, other)) for name, others in found.items() for other in others}
    return pairs, {"seconds": time.perf_counter() - started}


def one_seed(args: argparse.Namespace, seed: int) -> list[str]:
    """Plant copies with `seed`, run every method on them, and return the table rows."""
    found = find_images(args.photos)
    rng = np.random.default_rng(seed)
    drawn = [found[i] for i in sorted(rng.choice(len(found), size=min(args.photos_drawn, len(found)),
                                                 replace=False))]
    rng.shuffle(drawn)
    out = args.out / f"seed-{seed}"
    truth, reframes = plant(drawn, out / "photos", args.planted, args.reframed, seed)
    results = []
    pairs, facts = lookalike_pairs(out / "photos", out / "gallery")
    results.append((f"lookalike `duplicates` ({facts['model']}; {facts['levels']})", scores(pairs, truth, reframes),
                    f"index {facts['index_s']:.0f} s + duplicates {facts['duplicates_s']:.0f} s"))
    for method in ("PHash", "CNN"):
        try:
            pairs, facts = imagededup_pairs(out / "photos", method)
        except Exception as error:  # a peer that cannot run here (its CNN weights need a download) is reported
            results.append((f"imagededup {method}", None, f"did not run: {type(error).__name__}: {error}"[:160]))
            continue
        results.append((f"imagededup {method} (its defaults)", scores(pairs, truth, reframes),
                        f"{facts['seconds']:.0f} s"))
    rows = []
    for name, result, time_text in results:
        if result is None:
            rows.append(f"| {seed} | {name} | — | — | — | — | {time_text} |")
        else:
            rows.append(f"| {seed} | {name} | {result['recall']:.3f} | {result['precision']:.3f} | "
                        f"{result['reframes']:.3f} | {result['originals']} | {time_text} |")
        print(rows[-1], flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("photos", type=Path, help="folder of photos to draw from (searched recursively)")
    parser.add_argument("--out", type=Path, required=True, help="scratch folder to write (must not exist)")
    parser.add_argument("--photos-drawn", type=int, default=600)
    parser.add_argument("--planted", type=int, default=150, help="photos that get edited copies")
    parser.add_argument("--reframed", type=int, default=100, help="photos that get a reframed copy")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2],
                        help="one draw of photos and planted copies per seed")
    record.add_record_options(parser)
    args = parser.parse_args()
    rows = [row for seed in args.seeds for row in one_seed(args, seed)]
    lines = [
        f"Per seed: {args.photos_drawn} photos drawn from {args.photos}, {args.planted} of them with one or two edited "
        f"copies (a photo and its copies, and two copies of one photo, are the planted pairs), {args.reframed} with a "
        f"reframed copy. Peak memory of the whole run {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} "
        "GiB.",
        "",
        "| seed | method | recall of planted pairs | precision (pairs with a copy) | reframes reported | pairs among "
        "untouched photos | time |",
        "|---|---|---|---|---|---|---|",
        *rows,
    ]
    record.publish("Near-duplicates with planted copies, against imagededup (issue #20)", lines, args)


if __name__ == "__main__":
    main()
