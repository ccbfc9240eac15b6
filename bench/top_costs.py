"""Where a benchmark spends its time: run a command under py-spy (every process it starts included) and print the
functions that were on the CPU most often, by their own samples and by samples that passed through them.

    .venv-bench/bin/python bench/top_costs.py --top 12 -- .venv-bench/bin/python bench/train_throughput.py \\
        ../shared/data/cifar10_train_subset --images 1280 --epochs 2

py-spy samples native and Python stacks ("--native"), so time inside PyTorch's and Pillow's C++ kernels is named by
the kernel rather than lumped into the Python line that called it. Idle threads are left out.
"""

from __future__ import annotations

import argparse
import collections
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path


def frames(line: str) -> tuple[list[str], int]:
    """A collapsed-stack line ("a;b;c 12") -> its frames, outermost first, and its sample count."""
    stack, _, count = line.rpartition(" ")
    return stack.split(";"), int(count)


def short(frame: str) -> str:
    """"fn (path/to/file.py:12)" -> "fn (file.py)": the line number splits one function into many rows."""
    name, _, where = frame.partition(" (")
    return f"{name} ({Path(where.split(':')[0]).name})" if where else name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--top", type=int, default=12)
    parser.add_argument("--rate", type=int, default=67, help="samples per second")
    parser.add_argument("--through", nargs="+", default=[], metavar="NAME",
                        help="also give the share of samples whose stack passes through a frame containing each NAME "
                             "(for example Conv2d.forward decode_rgb), to split a path into its stages")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="the command to profile, after --")
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the command to profile after --")
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    with tempfile.TemporaryDirectory() as scratch:
        raw = Path(scratch) / "stacks.txt"
        subprocess.run([py_spy, "record", "--subprocesses", "--native", "--rate", str(args.rate), "--format", "raw",
                        "--output", str(raw), "--", *command], check=True)
        own: collections.Counter[str] = collections.Counter()
        through: collections.Counter[str] = collections.Counter()
        stages: collections.Counter[str] = collections.Counter()
        total = 0
        for line in raw.read_text().splitlines():
            if not line.strip():
                continue
            stack, count = frames(line)
            total += count
            own[short(stack[-1])] += count
            for name in {short(frame) for frame in stack}:
                through[name] += count
            for name in args.through:
                if any(name in frame for frame in stack):
                    stages[name] += count
    print(f"{total} samples")
    for title, counter in (("own samples", own), ("samples through", through)):
        print(f"\n| function | {title} | share |\n|---|---|---|")
        for name, count in counter.most_common(args.top):
            print(f"| `{name}` | {count} | {count / total:.1%} |")
    if args.through:
        print("\n| stage (frames containing) | samples through | share |\n|---|---|---|")
        for name in args.through:
            print(f"| `{name}` | {stages[name]} | {stages[name] / total:.1%} |")


if __name__ == "__main__":
    main()
