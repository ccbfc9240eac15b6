"""Embedding on a Ray cluster with Ray Data, for collections of many millions of files.

The pipeline: the file list, then decoding in Ray tasks (the model's own preprocessing stage, a file's bytes hashed
as they are read), then ``map_batches`` through a pool of embedding actors, one per GPU when the cluster has GPUs,
then back to this process in batches for the store to write. The model travels as its safetensors and JSON files
through Ray to each actor, so workers on other machines need lookalike installed, not the model's folder.

Memory: Ray Data spills to disk when decoded pixels pile up faster than they are embedded. Decoded batches are kept
small and of one size (``batch_size`` files), and each task and actor holds one batch at a time.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lookalike.data import BadImage
from lookalike.data.decode import decode_regions, read_image_file
from lookalike.embed import EmbedSettings, Embeddings
from lookalike.engines import Engine, register_engine
from lookalike.errors import LookalikeError
from lookalike.model import Model, load_model
from lookalike.preprocess import stage_named

BATCH_SIZE = 32
"""Files per decoded batch: at 224 px, 32 files are under 5 MB of pixels, well inside one Ray Data block."""


def ray_engine(address: str | None = None, batch_size: int = BATCH_SIZE, actors: int | None = None) -> Engine:
    """An engine on the Ray cluster at ``address`` (None: the cluster this process already joined, else a local one
    on this machine's cores); ``actors`` embedding actors (default: one per GPU, else one per 4 CPUs)."""

    def embed(model: Model, paths: Sequence[Path]) -> Iterator[Embeddings]:
        if not paths:
            return
        ray = _ray()
        if not ray.is_initialized():
            os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "fatal")  # Ray's C++ core logs its notes to our stderr
            ray.init(address=address, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
        logging.getLogger("ray.data").setLevel(logging.ERROR)  # index draws its own progress bar and report
        ray.data.DataContext.get_current().enable_progress_bars = False
        gpus = int(ray.cluster_resources().get("GPU", 0))
        pool = actors or max(1, gpus or int(ray.cluster_resources().get("CPU", 1)) // 4)
        files = ray.data.from_items([{"index": index, "path": str(path)} for index, path in enumerate(paths)],
                                    override_num_blocks=max(1, min(len(paths) // batch_size, 10_000)))
        decoded = files.map_batches(_decode, fn_kwargs={"size": model.image_size, "stage": model.config.preprocess},
                                    batch_size=batch_size, batch_format="numpy")
        embedded = decoded.map_batches(
            _EmbeddingActor, fn_constructor_kwargs={"model_files": _model_files(model),
                                                    "precision": model.settings.precision},
            batch_size=batch_size, batch_format="numpy", compute=ray.data.ActorPoolStrategy(size=pool),
            num_gpus=1 if gpus else 0)
        yield from _whole_files(embedded.iter_batches(batch_size=batch_size, batch_format="numpy"), model.dim)

    return embed


def _ray() -> Any:
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise LookalikeError("--engine ray needs Ray Data: pip install 'lookalike[ray]'") from None
    return ray


def _decode(batch: dict[str, np.ndarray], size: int, stage: str) -> dict[str, np.ndarray]:
    """One row per region of each file that decodes, one row with its reason per file that does not; every row
    says how many rows its file has, so this process can tell when a file is complete."""
    rows: list[tuple[int, str, str, str, str, int, np.ndarray]] = []
    blank = np.zeros((size, size, 3), np.uint8)
    for index, path in zip(batch["index"].tolist(), batch["path"].tolist()):
        try:
            data = read_image_file(path)
            regions = decode_regions(data, size, stage_named(stage), name=path)
        except BadImage as failure:
            rows.append((index, path, "", "", failure.reason, 1, blank))
            continue
        digest = hashlib.sha256(data).hexdigest()
        rows += [(index, path, digest, key, "", len(regions), pixels) for key, pixels in regions]
    columns = list(zip(*rows)) if rows else [()] * 7
    return {
        "index": np.array(columns[0], np.int64),
        "path": np.array(columns[1], dtype=object),
        "sha256": np.array(columns[2], dtype=object),
        "region": np.array(columns[3], dtype=object),
        "bad": np.array(columns[4], dtype=object),
        "rows": np.array(columns[5], np.int64),
        "pixels": np.stack(columns[6]) if rows else np.zeros((0, size, size, 3), np.uint8),
    }


class _EmbeddingActor:
    """Holds one copy of the model on its device and embeds the decoded rows handed to it."""

    def __init__(self, model_files: dict[str, bytes], precision: str) -> None:
        with tempfile.TemporaryDirectory() as folder:
            for name, data in model_files.items():
                (Path(folder) / name).write_bytes(data)
            self.model = load_model(folder, EmbedSettings(workers=0, precision=precision))

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        import torch

        good = np.flatnonzero(batch["bad"] == "")
        vectors = np.zeros((len(batch["index"]), self.model.dim), np.float32)
        if len(good):
            pixels = torch.from_numpy(np.ascontiguousarray(batch["pixels"][good].transpose(0, 3, 1, 2)))
            vectors[good] = self.model.embedder.embed_pixels(pixels)
        return {name: values for name, values in batch.items() if name != "pixels"} | {"vector": vectors}


def _model_files(model: Model) -> dict[str, bytes]:
    with tempfile.TemporaryDirectory() as folder:
        model.save(folder)
        return {path.name: path.read_bytes() for path in Path(folder).iterdir() if path.is_file()}


def _whole_files(batches: Iterator[dict[str, np.ndarray]], dim: int) -> Iterator[Embeddings]:
    """The embedded rows regrouped so that each yielded batch holds whole files: Ray Data may cut between two
    regions of one file, and a store replaces all of a file's regions at once."""
    waiting: dict[int, list[tuple[str, str, np.ndarray]]] = {}
    for batch in batches:
        done = Embeddings(vectors=np.zeros((0, dim), np.float32))
        vectors = []
        for index, path, sha256, region, bad, rows, vector in zip(
                batch["index"].tolist(), batch["path"], batch["sha256"], batch["region"], batch["bad"],
                batch["rows"].tolist(), batch["vector"]):
            if bad:
                done.skipped.append(BadImage(path, bad))
                continue
            regions = waiting.setdefault(index, [])
            regions.append((sha256, region, vector))
            if len(regions) == rows:
                del waiting[index]
                for sha256, region, vector in regions:
                    done.indices.append(index)
                    done.sha256.append(sha256)
                    done.regions.append(region)
                    vectors.append(vector)
        if vectors:
            done.vectors = np.stack(vectors).astype(np.float32)
        yield done
    if waiting:
        raise LookalikeError(f"Ray returned part of the regions of {len(waiting)} files; index again to finish them")


register_engine("ray", ray_engine)
