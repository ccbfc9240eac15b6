"""bench/record.py: appending a result block keeps everything already in the file, byte for byte."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"
sys.path.insert(0, str(BENCH))
import record  # noqa: E402  (bench/ is a folder of scripts, not a package)

TABLE = ["| index | QPS |", "|---|---|", "| flat | 123 |"]
COMMAND = ".venv/bin/python bench/search_speed.py --n 20000 --record"


def test_append_keeps_the_file_and_adds_one_block(tmp_path):
    path = tmp_path / "BENCHMARKS.md"
    before = "# Benchmarks\n\nSome text — with ünïcode, and\r\na CRLF line.\n".encode()
    path.write_bytes(before)

    block = record.append_section("Search speed", TABLE, COMMAND, path=path)

    after = path.read_bytes()
    assert after[: len(before)] == before
    added = after[len(before):].decode("utf-8")
    assert added == block
    assert "### Search speed — " in added
    assert f"```sh\n{COMMAND}\n```" in added
    assert "\n".join(TABLE) in added
    assert "Machine: " in added and "Commit: " in added


def test_two_appends_stack_in_order(tmp_path):
    path = tmp_path / "BENCHMARKS.md"
    first = record.append_section("First", ["a"], "cmd one", path=path)  # the file does not exist yet
    second = record.append_section("Second", ["b"], "cmd two", path=path)
    assert path.read_text(encoding="utf-8") == first + second


def test_an_unfinished_last_line_is_ended_not_joined(tmp_path):
    path = tmp_path / "BENCHMARKS.md"
    path.write_bytes(b"no newline at the end")
    record.append_section("Title", TABLE, COMMAND, path=path)
    text = path.read_text(encoding="utf-8")
    assert text.startswith("no newline at the end\n")
    assert "\n### Title — " in text


def test_machine_and_commit_describe_this_checkout():
    facts = record.machine()
    assert facts["cpu"] and facts["cores"] == __import__("os").cpu_count()
    assert "torch" in facts and "faiss" in facts
    assert record.describe_machine(facts).startswith(f"{facts['cpu']}, {facts['cores']} cores")
    assert f"CPU kernels {facts['cpu_kernels']}, " in record.describe_machine(facts)
    revision = record.commit()
    assert revision == "unknown" or revision.removesuffix("+dirty").isalnum()


def test_a_gpu_is_named_after_the_cpu():
    facts = {"cpu": "AMD EPYC", "cores": 16, "cpu_kernels": "AVX512", "native_bf16": True,
             "gpu": "NVIDIA H100 80GB HBM3 (CUDA 13.0)", "torch": "2.11.0", "torch_threads": 16, "python": "3.12.3"}
    assert record.describe_machine(facts) == ("AMD EPYC, 16 cores; CPU kernels AVX512, native bf16; "
                                              "GPU NVIDIA H100 80GB HBM3 (CUDA 13.0); torch 2.11.0 (16 threads); "
                                              "Python 3.12.3")


def test_commit_is_dirty_for_changed_code_but_not_for_new_records(tmp_path):
    def git(*args):
        subprocess.run(["git", "-C", str(tmp_path), *args], check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / "BENCHMARKS.md").write_text("# Benchmarks\n")
    (tmp_path / "code.py").write_text("x = 1\n")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "start")
    (tmp_path / "BENCHMARKS.md").write_text("# Benchmarks\n\na record\n")
    assert not record.commit(tmp_path).endswith("+dirty")
    (tmp_path / "code.py").write_text("x = 2\n")
    assert record.commit(tmp_path).endswith("+dirty")


def test_commit_outside_git_is_unknown(tmp_path):
    assert record.commit(tmp_path) == "unknown"


@pytest.mark.parametrize(("argv", "expected"), [([], False), (["--record"], True), (["--no-record"], False)])
def test_record_is_off_unless_asked(argv, expected, tmp_path):
    parser = argparse.ArgumentParser()
    record.add_record_options(parser)
    args = parser.parse_args([*argv, "--benchmarks-file", str(tmp_path / "b.md")])
    assert args.record is expected
    assert args.benchmarks_file == tmp_path / "b.md"


def test_publish_prints_always_and_appends_only_when_asked(tmp_path, capsys):
    target = tmp_path / "BENCHMARKS.md"
    target.write_text("# Benchmarks\n")
    parser = argparse.ArgumentParser()
    record.add_record_options(parser)
    record.publish("A table", ["| a |", "|---|", "| 1 |"], parser.parse_args(["--benchmarks-file", str(target)]))
    assert "| 1 |" in capsys.readouterr().out
    assert target.read_text() == "# Benchmarks\n"
    record.publish("A table", ["| a |", "|---|", "| 1 |"],
                   parser.parse_args(["--record", "--benchmarks-file", str(target)]))
    text = target.read_text()
    assert text.startswith("# Benchmarks\n") and "A table" in text and "| 1 |" in text
