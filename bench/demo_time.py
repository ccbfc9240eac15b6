"""How long `lookalike demo` takes as a newcomer runs it, and whether its trained encoder wins, on this CPU and on this
CPU held to AVX2 in fp32 (the laptops the demo's 3-minute target is for).

Each run is `lookalike demo` in a fresh process with a fresh output folder: the wall time includes Python's start, the
imports, the data (cached after the first run) and the report. "AVX2, fp32" sets ATEN_CPU_CAPABILITY=avx2 and
ONEDNN_MAX_CPU_ISA=AVX2, so that torch's and oneDNN's kernels use no AVX-512, and passes --precision fp32: the
instructions of an AVX2 CPU on this one's cores, clocks and caches. It is an emulation, and says so in its table.

    .venv/bin/python bench/demo_time.py --runs 2 --record
    .venv/bin/python bench/demo_time.py --runs 2 --record -- --data FOLDER

The demo chooses its recipe by the data folder's name (lookalike.demo.RECIPES): a link named flower_photos to another
flower folder runs the recipe of TensorFlow's flower photos on it.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import record

MODES = {
    "native (auto precision)": ({}, []),
    "AVX2 emulated, fp32": ({"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2"}, ["--precision", "fp32"]),
}
_LINE = re.compile(r"^(\w+) \S+: .* precision@1 (\d\.\d+) .* mAP@R (\d\.\d+)$")


def run_once(extra_env: dict[str, str], options: list[str], demo_args: list[str]) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="demo-time-") as out:
        command = [str(Path(sys.executable).with_name("lookalike")), "demo", "--out", out, *options, *demo_args]
        started = time.perf_counter()
        done = subprocess.run(command, env={**os.environ, **extra_env}, capture_output=True, text=True, check=True)
        seconds = time.perf_counter() - started
        epochs = sum(1 for _ in open(Path(out) / "model" / "train_log.csv")) - 1
    scores = {match[1]: (float(match[2]), float(match[3]))
              for match in map(_LINE.match, done.stdout.splitlines()) if match}
    return {"seconds": seconds, "epochs": epochs, "scores": scores}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=2, help="demo runs per mode")
    parser.add_argument("--modes", nargs="+", default=list(MODES), choices=list(MODES))
    parser.add_argument("demo_args", nargs="*", help="more `lookalike demo` options, after --")
    record.add_record_options(parser)
    args = parser.parse_args(argv)

    demo = " ".join(["lookalike demo", *args.demo_args])
    lines = [f"Each row is one `{demo}` in a fresh process and output folder, offline, with the demo's "
             "defaults (1.5 minutes of training) unless given.", "",
             "| CPU | run | wall time | epochs | baseline precision@1 / mAP@R | trained precision@1 / mAP@R | "
             "trained ahead on both |",
             "|---|---:|---:|---:|---|---|---|"]
    for mode in args.modes:
        extra_env, options = MODES[mode]
        for number in range(1, args.runs + 1):
            result = run_once(extra_env, options, args.demo_args)
            print(f"{mode} run {number}: {result}", file=sys.stderr, flush=True)
            scores = result["scores"]
            assert isinstance(scores, dict)
            (baseline, (p0, m0)), (p1, m1) = next(iter(scores.items())), scores["trained"]
            lines.append(f"| {mode} | {number} | {result['seconds']:.0f} s | {result['epochs']} | {baseline} "
                         f"{p0:.3f} / {m0:.3f} "
                         f"| {p1:.3f} / {m1:.3f} | {'yes' if p1 > p0 and m1 > m0 else 'no'} |")
    record.publish("`lookalike demo`: time and result on 2 cores, native and AVX2 fp32 (issue #22)", lines, args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
