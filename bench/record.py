"""Recording a benchmark's result: which machine, which commit, which command, and the table it printed.

Every bench script prints its table and, given ``--record``, appends it to BENCHMARKS.md, both through ``publish``.
Not a package: scripts import it as ``record`` because Python puts the script's own folder (``bench/``) first on
``sys.path``.

    import record
    record.add_record_options(parser)            # --record, --benchmarks-file
    ...
    record.publish("Search speed (issue #6c)", table, args)
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_PATH = REPO / "BENCHMARKS.md"


def cpu_model() -> str:
    """The CPU's "model name" from /proc/cpuinfo, or what ``platform`` says where there is no such file."""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def machine() -> dict[str, object]:
    """CPU model, core count, the threads torch and FAISS use, memory, and library versions (when installed).

    The model name alone can hide what matters most here: the same "AMD EPYC" has come with and without AVX-512
    BF16, which doubles lookalike's CPU throughput where present. So the instruction set torch's kernels use, and
    whether the CPU has native bf16, are recorded too."""
    facts: dict[str, object] = {"cpu": cpu_model(), "cores": os.cpu_count()}
    try:
        facts["memory_gib"] = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        pass
    facts["python"] = platform.python_version()
    try:
        import torch

        from lookalike.runtime import cpu_has_native_bf16

        facts["torch"] = torch.__version__
        facts["torch_threads"] = torch.get_num_threads()
        facts["cpu_kernels"] = torch.backends.cpu.get_cpu_capability()
        facts["native_bf16"] = cpu_has_native_bf16()
        if torch.cuda.is_available():
            facts["gpu"] = f"{torch.cuda.get_device_name(0)} (CUDA {torch.version.cuda})"
    except ImportError:
        pass
    try:
        import faiss

        facts["faiss"] = faiss.__version__
        facts["faiss_threads"] = faiss.omp_get_max_threads()
    except ImportError:
        pass
    return facts


def describe_machine(facts: dict[str, object] | None = None) -> str:
    """One line, e.g. ``AMD EPYC, 2 cores, 23.4 GiB; CPU kernels AVX2, no native bf16; torch 2.15.0 (2 threads);
    faiss 1.15.1 (2 threads); ...``, with the GPU after the CPU where torch sees one."""
    facts = machine() if facts is None else facts
    memory = f", {facts['memory_gib']} GiB" if "memory_gib" in facts else ""
    parts = [f"{facts['cpu']}, {facts['cores']} cores{memory}"]
    if "cpu_kernels" in facts:
        parts.append(f"CPU kernels {facts['cpu_kernels']}, {'' if facts['native_bf16'] else 'no '}native bf16")
    if "gpu" in facts:
        parts.append(f"GPU {facts['gpu']}")
    for library in ("torch", "faiss"):
        if library in facts:
            parts.append(f"{library} {facts[library]} ({facts[f'{library}_threads']} threads)")
    parts.append(f"Python {facts['python']}")
    return "; ".join(parts)


def commit(repo: Path = REPO) -> str:
    """The short hash of HEAD, plus ``+dirty`` when tracked files other than BENCHMARKS.md differ from it (the
    records themselves would otherwise mark every run after the first); ``unknown`` outside git."""
    def git(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=False)

    try:
        head = git("rev-parse", "--short", "HEAD")
        if head.returncode != 0:
            return "unknown"
        dirty = git("status", "--porcelain", "--untracked-files=no", "--", ".", f":(exclude){DEFAULT_PATH.name}")
    except OSError:
        return "unknown"
    return head.stdout.strip() + ("+dirty" if dirty.returncode != 0 or dirty.stdout.strip() else "")


def command_line(argv: list[str] | None = None) -> str:
    """The command that ran this script, as one could paste it into a shell from the repository root."""
    argv = sys.argv if argv is None else argv
    script = Path(argv[0])
    try:
        script = script.resolve().relative_to(REPO)
    except ValueError:
        pass
    python = Path(sys.executable)
    try:
        python = python.relative_to(REPO) if python.is_absolute() else python
    except ValueError:
        pass
    return shlex.join([str(python), str(script), *argv[1:]])


def format_section(title: str, lines: list[str], command: str, *, when: datetime | None = None,
                   facts: dict[str, object] | None = None, revision: str | None = None) -> str:
    """The markdown block ``append_section`` writes: heading with the date, machine, commit, command, then lines."""
    when = datetime.now(timezone.utc) if when is None else when
    revision = commit() if revision is None else revision
    body = "\n".join(line.rstrip("\n") for line in lines)
    return (
        f"\n### {title} — {when.strftime('%Y-%m-%d %H:%M UTC')}\n\n"
        f"Machine: {describe_machine(facts)}.\n"
        f"Commit: {revision}.\n\n"
        f"```sh\n{command}\n```\n\n"
        f"{body}\n"
    )


def append_section(title: str, lines: list[str], command: str, path: str | Path = DEFAULT_PATH) -> str:
    """Append one result block to ``path`` (created if missing) and return it; the rest of the file is untouched.

    The block is written with a single ``write`` on a file opened for appending, so it lands after whatever is there
    even if someone else edits the file meanwhile, and a second run never interleaves with the first line by line.
    """
    block = format_section(title, lines, command)
    path = Path(path)
    if _last_byte(path) not in (None, b"\n"):
        block = "\n" + block  # the file's last line was unfinished: end it rather than glue the heading to it
    with open(path, "ab") as file:  # binary: no newline translation, the bytes before are never re-encoded
        file.write(block.encode("utf-8"))
        file.flush()
        os.fsync(file.fileno())
    return block


def _last_byte(path: Path) -> bytes | None:
    try:
        with open(path, "rb") as file:
            if file.seek(0, os.SEEK_END) == 0:
                return None
            file.seek(-1, os.SEEK_END)
            return file.read(1)
    except FileNotFoundError:
        return None


def add_record_options(parser: argparse.ArgumentParser) -> None:
    """``--record`` (off by default: scripts always print their table, and append it only when asked) and where."""
    parser.add_argument("--record", action=argparse.BooleanOptionalAction, default=False,
                        help="append the result table to the benchmarks file (default: only print it)")
    parser.add_argument("--benchmarks-file", type=Path, default=DEFAULT_PATH,
                        help=f"the markdown file --record appends to (default: {DEFAULT_PATH.name})")


def publish(title: str, lines: list[str], args: argparse.Namespace) -> None:
    """Print a script's result table, and append it under ``title`` to ``args.benchmarks_file`` when ``args.record``
    (the options of ``add_record_options``) asks for it, with this run's command line."""
    print("\n".join(lines), flush=True)
    if args.record:
        append_section(title, lines, command_line(), args.benchmarks_file)
        print(f"\nappended to {args.benchmarks_file}")
