"""Web search under load: p50 and p95 latency and requests per second of `lookalike serve` on a 10,000-image
gallery, with 16 concurrent clients on loopback.

The gallery holds synthetic entries: random unit vectors filed through the Gallery API under generated records (no
files behind them), next to the default model (a random-init ResNet-18 at 128 px, 256-d), so the search costs what
it costs on real photos of that size. It is built once in bench-output/ and reused. The server is the real `lookalike
serve`, started as a subprocess. Two workloads, one after the other, each bounded by --requests and by --seconds:

- upload: POST /api/search with a 320x240 JPEG (the flower photos' size): decode, embed, then search the index;
- by id:  GET /api/search/{id}: the stored vector, then search the index; nothing is embedded.

Each client is a thread with its own keep-alive connection; latency is from sending the request to reading the whole
answer. A few requests warm the server up first and are not counted.

    .venv/bin/python bench/serve_load.py --requests 1000 --seconds 60
"""

from __future__ import annotations

import argparse
import http.client
import io
import itertools
import json
import platform
import shlex
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from lookalike.gallery import Gallery, ImageRecord
from lookalike.models import EncoderConfig, create_encoder, model_id, save_model

BOUNDARY = "lookalike-bench"


def build_gallery(folder: Path, count: int) -> None:
    """`count` random unit vectors under generated records, and the default model that would have made them."""
    if Gallery.exists(folder):
        with Gallery.open(folder, read_only=True) as existing:
            if len(existing) == count:
                return
        raise SystemExit(f"{folder} holds a gallery of another size; remove it or pick another --gallery")
    encoder = create_encoder(EncoderConfig())
    vectors = np.random.default_rng(0).standard_normal((count, encoder.config.embedding_dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    records = [ImageRecord(f"/synthetic/{i:05d}.jpg", 50_000, i, f"{i:064x}", label=f"class{i % 10}")
               for i in range(count)]
    with Gallery.create(folder, model_id=model_id(encoder), dim=encoder.config.embedding_dim,
                        fill=lambda staging: save_model(encoder, staging / "model")) as gallery:
        gallery.add(records, vectors, model_id=model_id(encoder))
        gallery.commit()


def query_jpeg() -> bytes:
    rng = np.random.default_rng(1)
    y, x = np.mgrid[0:240, 0:320]
    pixels = np.stack([x * 255 / 320, y * 255 / 240, ((x // 20 + y // 20) % 2) * 200], axis=-1)
    pixels = np.clip(pixels + rng.normal(0, 10, pixels.shape), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def multipart(data: bytes) -> bytes:
    return (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"query.jpg\"\r\n"
            f"Content-Type: image/jpeg\r\n\r\n").encode() + data + f"\r\n--{BOUNDARY}--\r\n".encode()


def start_server(gallery: Path, port: int, log: Path, *options: str) -> subprocess.Popen:
    """`lookalike serve` on `gallery` (with any further command-line `options`), once it answers /api/health."""
    with open(log, "w") as output:
        server = subprocess.Popen([sys.executable, "-m", "lookalike", "serve", "--gallery", str(gallery),
                                   "--port", str(port), *options], stdout=output, stderr=output)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and server.poll() is None:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/api/health")
            if connection.getresponse().status == 200:
                return server
        except OSError:
            time.sleep(0.3)
    server.kill()
    raise SystemExit(f"lookalike serve did not start:\n{log.read_text()}")


def run_load(port: int, request, clients: int, requests: int, seconds: float) -> dict:
    """Send up to `requests` requests from `clients` threads, stopping early after `seconds`."""
    tickets = itertools.count()
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def client() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while next(tickets) < requests and time.monotonic() < deadline:
            started = time.perf_counter()
            try:
                method, url, body, headers = request()
                connection.request(method, url, body=body, headers=headers)
                response = connection.getresponse()
                answer = response.read()
                ok = response.status == 200 and json.loads(answer)["hits"]
            except (OSError, http.client.HTTPException, ValueError) as error:
                connection.close()
                ok, answer = False, str(error).encode()
            elapsed = time.perf_counter() - started
            with lock:
                (latencies.append(elapsed) if ok else errors.append(answer[:200].decode(errors="replace")))
        connection.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    cuts = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [float("nan")] * 99
    return {"requests": len(latencies), "errors": len(errors), "first_error": errors[0] if errors else None,
            "seconds": wall, "rps": len(latencies) / wall, "p50_ms": cuts[49] * 1000, "p95_ms": cuts[94] * 1000}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gallery", type=Path, default=Path("bench-output/serve-load-gallery"))
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--requests", type=int, default=1000, help="At most this many requests per workload.")
    parser.add_argument("--seconds", type=float, default=60, help="At most this long per workload.")
    parser.add_argument("-k", type=int, default=10)
    parser.add_argument("--port", type=int, default=0, help="Default: a free port.")
    args = parser.parse_args()

    build_gallery(args.gallery, args.images)
    port = args.port
    if port == 0:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
    body = multipart(query_jpeg())
    upload = ("POST", f"/api/search?k={args.k}", body, {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"})
    ids = itertools.cycle(np.random.default_rng(2).permutation(args.images) + 1)  # ids start at 1
    workloads = {
        "upload (POST /api/search, 320x240 JPEG)": lambda: upload,
        "by id (GET /api/search/{id})": lambda: ("GET", f"/api/search/{next(ids)}?k={args.k}", None, {}),
    }
    server = start_server(args.gallery, port, args.gallery.parent / "serve-load.log")
    try:
        rows = {}
        for name, request in workloads.items():
            run_load(port, request, clients=2, requests=8, seconds=30)  # warm-up, not counted
            rows[name] = run_load(port, request, args.clients, args.requests, args.seconds)
    finally:
        server.terminate()
        server.wait(timeout=30)

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                           text=True).stdout.strip()
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    print(f"command: {shlex.join([Path(sys.executable).name, *sys.argv])}")
    print(f"machine: {cpu}, {torch.get_num_threads()} threads, torch {torch.__version__}, Python "
          f"{platform.python_version()}; commit {commit}{' with uncommitted changes' if dirty else ''}")
    print(f"{args.images} gallery images (flat index), k = {args.k}, {args.clients} clients on loopback, "
          f"at most {args.requests} requests or {args.seconds:g} s per workload")
    print("| workload | requests | errors | req/s | p50 ms | p95 ms |\n|---|---|---|---|---|---|")
    for name, row in rows.items():
        print(f"| {name} | {row['requests']} | {row['errors']} | {row['rps']:.1f} | {row['p50_ms']:.1f} | "
              f"{row['p95_ms']:.1f} |")
        if row["first_error"]:
            print(f"first error ({name}): {row['first_error']}")


if __name__ == "__main__":
    main()
