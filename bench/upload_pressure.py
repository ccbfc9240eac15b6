"""Decompression-heavy uploads against `lookalike serve`: peak and settled resident memory of the server, and what
each request was answered, with the upload bounds on (the defaults) and off (as before they existed).

An upload can be small on the wire and huge in memory: a PNG of one colour compresses about a thousandfold. Two
uploads, each sent by every client at once, again and again:

- near the limit: a 4,800 x 4,800 PNG (23 Mpx, under the default 24 Mpx limit), which has to be decoded;
- over it: a 9,400 x 9,400 PNG (88 Mpx, the size that took the server from 1.1 GB to a 4.5 GB peak before the
  bounds existed), which the bounds refuse from its header.

"Bounds off" is the same server started with the pixel limit raised to the one for files (89.5 Mpx) and 64 decodes
at once, which is how uploads were decoded before. The gallery and model are serve_load.py's (10,000 synthetic
images, a random-init ResNet-18 at 128 px). Memory is read from /proc: VmHWM (the peak) and VmRSS after the burst.

    .venv/bin/python bench/upload_pressure.py --clients 8 --rounds 3 [--record]
"""

from __future__ import annotations

import argparse
import collections
import http.client
import io
import socket
import threading
import time
from pathlib import Path

import numpy as np
import record
from PIL import Image
from serve_load import BOUNDARY, build_gallery, multipart, start_server


def flat_png(side: int) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.full((side, side, 3), 90, np.uint8)).save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def memory_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def burst(port: int, body: bytes, clients: int, rounds: int) -> collections.Counter:
    """Every client sends `body` `rounds` times, all at once; returns how many of each status came back."""
    statuses: collections.Counter = collections.Counter()
    lock = threading.Lock()
    headers = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}

    def client() -> None:
        for _ in range(rounds):
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
            try:
                connection.request("POST", "/api/search?k=5", body=body, headers=headers)
                status = connection.getresponse().status
            except (OSError, http.client.HTTPException) as error:
                status = type(error).__name__
            finally:
                connection.close()
            with lock:
                statuses[status] += 1

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


def measure(gallery: Path, options: list[str], uploads: dict[str, bytes], clients: int, rounds: int) -> dict:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = start_server(gallery, port, gallery.parent / "upload-pressure.log", *options)
    try:
        row = {"idle_mib": memory_kib(server.pid, "VmRSS") / 1024}
        started = time.perf_counter()
        row["answers"] = {name: dict(burst(port, multipart(data), clients, rounds)) for name, data in uploads.items()}
        row["seconds"] = time.perf_counter() - started
        row["alive"] = server.poll() is None
        if row["alive"]:
            row["peak_mib"] = memory_kib(server.pid, "VmHWM") / 1024
            row["after_mib"] = memory_kib(server.pid, "VmRSS") / 1024
    finally:
        server.terminate()
        server.wait(timeout=30)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gallery", type=Path, default=Path("bench-output/serve-load-gallery"))
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3, help="Uploads of each kind per client.")
    record.add_record_options(parser)
    args = parser.parse_args()

    build_gallery(args.gallery, args.images)
    uploads = {"23 Mpx PNG": flat_png(4800), "88 Mpx PNG": flat_png(9400)}
    sizes = ", ".join(f"{name} {len(data) / 1024:.0f} KiB" for name, data in uploads.items())
    setups = {"bounds on (defaults: 24 Mpx, 2 decodes at once)": [],
              "bounds off (89.5 Mpx, 64 at once)": ["--max-upload-megapixels", "89.478485", "--decodes-at-once", "64"]}
    lines = [f"{args.clients} clients at once, {args.rounds} uploads of each kind per client ({sizes} on the wire); "
             f"gallery of {args.images} images, ResNet-18 at 128 px", "",
             "| server | idle RSS MiB | peak RSS MiB | RSS after MiB | answers (status: count) | seconds | alive |",
             "|---|---|---|---|---|---|---|"]
    for name, options in setups.items():
        row = measure(args.gallery, options, uploads, args.clients, args.rounds)
        answers = "; ".join(f"{kind}: " + ", ".join(f"{status} x{count}" for status, count in sorted(
            counts.items(), key=str)) for kind, counts in row["answers"].items())
        lines.append(f"| {name} | {row['idle_mib']:.0f} | {row.get('peak_mib', float('nan')):.0f} | "
                     f"{row.get('after_mib', float('nan')):.0f} | {answers} | {row['seconds']:.1f} | "
                     f"{'yes' if row['alive'] else 'no'} |")
    record.publish("Uploads under memory pressure (issue #16)", lines, args)


if __name__ == "__main__":
    main()
