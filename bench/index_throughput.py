"""Indexing throughput: JPEG files on disk -> stored vectors, lookalike against a plain PyTorch loop.

Both embed the same files with the same encoder (untrained ResNet-18, same input size) in the same process.
The plain loop is what one writes first: PIL open, torchvision Resize + CenterCrop + ToTensor + Normalize, fp32,
batch 64, one process. lookalike's figure includes hashing, SQLite and the FAISS write.

    .venv/bin/python bench/index_throughput.py ../shared/data/flowers_recognition --repeat 3
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch
from PIL import Image
from record import add_record_options, publish
from torchvision import transforms

import lookalike
from lookalike.data import find_images
from lookalike.models import EncoderConfig, create_encoder


def plain_loop(paths: list[Path], encoder, size: int, batch_size: int = 64) -> float:
    """Seconds for the plain loop to embed every file."""
    config = encoder.config
    prepare = transforms.Compose([
        transforms.Resize(size), transforms.CenterCrop(size), transforms.ToTensor(),
        transforms.Normalize(config.mean, config.std),
    ])
    started = time.perf_counter()
    with torch.no_grad():
        for start in range(0, len(paths), batch_size):
            batch = torch.stack([prepare(Image.open(p).convert("RGB")) for p in paths[start : start + batch_size]])
            encoder(batch)
    return time.perf_counter() - started


def lookalike_index(folder: Path, encoder) -> float:
    with tempfile.TemporaryDirectory() as scratch:
        with lookalike.open(Path(scratch) / "g", encoder) as session:
            report = session.index(folder)
    assert report.added == report.found, report
    return report.seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--paths", nargs="+", choices=("plain", "lookalike"), default=["plain", "lookalike"],
                        help="which paths to time; one alone is for profiling it (bench/top_costs.py)")
    add_record_options(parser)
    args = parser.parse_args()

    paths = find_images(args.folder)
    config = EncoderConfig(image_size=args.image_size)
    runs = {
        "plain": lambda: plain_loop(paths, create_encoder(config).eval(), args.image_size),
        "lookalike": lambda: lookalike_index(args.folder, create_encoder(config)),
    }
    seconds: dict[str, list[float]] = {name: [] for name in args.paths}
    for _ in range(args.repeat):  # interleaved, so machine noise hits both alike
        for name in args.paths:
            seconds[name].append(runs[name]())
    rates = {name: len(paths) / statistics.median(times) for name, times in seconds.items()}
    rows = {"plain": "plain loop (PIL + torchvision transforms, fp32, batch 64)",
            "lookalike": "lookalike index (workers, draft decode, folded batch norm, channels_last, bf16 auto)"}
    lines = [f"{len(paths)} files from {args.folder}, ResNet-18 at {args.image_size} px, median of {args.repeat}.", "",
             "| path | img/s | × plain loop |", "|---|---|---|"]
    for name, rate in rates.items():
        ratio = f"{rate / rates['plain']:.2f}×" if "plain" in rates else "—"
        lines.append(f"| {rows[name]} | {rate:.0f} | {ratio} |")
    publish("Indexing throughput (issue #6b)", lines, args)


if __name__ == "__main__":
    main()
