"""Judging a frozen encoder with labels: SimCLR's linear probe, weighted kNN, and retrieval of the test split from
the train split (precision@1, R-precision, mAP@R).

Every score is computed from features extracted once per (model, layer, images). The features are cached on disk,
keyed by exactly those three, so a second evaluation of the same model on the same data skips the encoder.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save

from lookalike.atomic import write_bytes_atomic
from lookalike.data import BadImage
from lookalike.data.arrays import LabelledImages
from lookalike.data.sources import labelled_images
from lookalike.embed import EmbedSettings, Embedder
from lookalike.errors import LookalikeError
from lookalike.features import Features, embed_labelled
from lookalike.metrics import RetrievalScores, retrieval_scores
from lookalike.model import Model, encoder_of
from lookalike.models import Encoder, model_id
from lookalike.probe import ProbeScores, knn_accuracy, linear_probe

DEFAULT_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "lookalike" / "features"


@dataclass
class Evaluation:
    model_id: str
    layer: str
    train: str  # where the train split came from, and how many images it held
    test: str
    probe: ProbeScores
    knn_top1: float
    k: int
    retrieval: RetrievalScores
    skipped: list[BadImage]
    feature_seconds: float  # spent embedding; 0 when every feature came from the cache

    def to_dict(self) -> dict:
        data = asdict(self)
        data["skipped"] = [{"path": str(bad.path), "reason": bad.reason} for bad in self.skipped]
        return data


def evaluate(
    model: str | Path | Encoder | Model,
    train: str | Path,
    test: str | Path,
    *,
    layer: str | None = None,
    k: int = 20,
    knn_temperature: float = 0.07,
    settings: EmbedSettings = EmbedSettings(),
    cache_dir: str | Path | None = DEFAULT_CACHE,
    on_plan: Callable[[int], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> Evaluation:
    """Score `model` (a model folder or an Encoder) with labels: `train` fits the probe and is the kNN and
    retrieval gallery, `test` is scored. Each is an image folder (one sub-folder per class) or an STL-10 or
    CIFAR-10 folder, whose train or test split is then used. `layer` overrides the model's embedding layer
    ("head" or "backbone", read as it is, without the model's whitening); `cache_dir` None turns the feature cache off.
    """
    encoder = encoder_of(model)
    if layer is not None and (layer != encoder.config.embed_from or encoder.config.whiten):
        encoder = copy.copy(encoder)  # the same weights, read at another layer; the caller's encoder is unchanged
        encoder.config = replace(encoder.config, embed_from=layer, whiten=None)  # validates the name
    embedder = Embedder(encoder, settings)
    identity = model_id(encoder)  # hashes every weight: once per evaluation
    spent = 0.0
    splits: list[tuple[str, Features]] = []
    for role, path in (("train", train), ("test", test)):
        images = labelled_images(path, role)
        if splits and images.source == splits[0][0]:
            raise LookalikeError(f"{train} and {test} give the same images for train and test; the probe would be "
                                 "scored on its own training data. Pass separate train and test folders")
        features, computed = _cached_features(embedder, identity, images, cache_dir, on_plan, on_progress)
        spent += computed
        splits.append((images.source, features))
    (train_source, train_features), (test_source, test_features) = splits
    classes = sorted(set(train_features.labels))
    index = {name: i for i, name in enumerate(classes)}
    missing = sorted(set(test_features.labels) - set(classes))
    if missing:
        raise LookalikeError(f"{test}: classes {', '.join(missing)} have no image in the train split {train}")
    train_y = np.array([index[name] for name in train_features.labels])
    test_y = np.array([index[name] for name in test_features.labels])
    return Evaluation(
        model_id=identity,
        layer=encoder.config.embed_from + (", whitened" if encoder.config.whiten else ""),
        train=f"{train_source}: {len(train_y)} images, {len(classes)} classes",
        test=f"{test_source}: {len(test_y)} images",
        probe=linear_probe(train_features.vectors, train_y, test_features.vectors, test_y),
        knn_top1=knn_accuracy(train_features.vectors, train_y, test_features.vectors, test_y, k=k,
                              temperature=knn_temperature),
        k=k,
        retrieval=_retrieval(train_features.vectors, train_y, test_features.vectors, test_y),
        skipped=train_features.skipped + test_features.skipped,
        feature_seconds=spent,
    )


def _cached_features(
    embedder: Embedder, identity: str, images: LabelledImages, cache_dir: str | Path | None, on_plan, on_progress
) -> tuple[Features, float]:
    """The features of `images` under the model `identity`, from the cache when it holds them; also the seconds
    spent computing them."""
    file = Path(cache_dir) / f"{_cache_key(identity, images)}.safetensors" if cache_dir else None
    if file is not None and file.exists():
        cached = _read_features(file)
        if cached is not None:
            return cached, 0.0
    started = time.perf_counter()
    features = embed_labelled(embedder, images, on_plan, on_progress)
    seconds = time.perf_counter() - started
    if file is not None:
        _write_features(file, features)
    return features, seconds


def _cache_key(identity: str, images: LabelledImages) -> str:
    """Model id (weights and architecture, so also the layer read) + the images: each file's path, size and
    modification time, or the decoded pixels themselves."""
    digest = hashlib.sha256(identity.encode())
    if images.paths is not None:
        for path, label in zip(images.paths, images.labels):
            try:
                stat = path.stat()
                state = f"{stat.st_size}\0{stat.st_mtime_ns}"
            except OSError:  # a link that leads nowhere: embedding reports it
                state = "unreadable"
            digest.update(f"{path}\0{state}\0{label}\n".encode("utf-8", "surrogateescape"))
    elif images.pixels is not None:
        digest.update(images.pixels.contiguous().numpy().tobytes())
        digest.update("\n".join(images.labels).encode())
    return digest.hexdigest()[:32]


def _write_features(file: Path, features: Features) -> None:
    meta = {
        "labels": json.dumps(features.labels),
        "skipped": json.dumps([[str(bad.path), bad.reason] for bad in features.skipped]),
    }
    file.parent.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(file, save({"vectors": torch.from_numpy(features.vectors)}, metadata=meta))


def _read_features(file: Path) -> Features | None:
    """Cached features, or None when the file is damaged (it is then recomputed and rewritten)."""
    try:
        with safe_open(str(file), framework="pt") as handle:
            meta = handle.metadata() or {}
            vectors = handle.get_tensor("vectors").numpy()
        labels = json.loads(meta["labels"])
        skipped = [BadImage(Path(path), reason) for path, reason in json.loads(meta["skipped"])]
    except (SafetensorError, OSError, KeyError, ValueError):
        return None
    if len(labels) != len(vectors):
        return None
    return Features(vectors, labels, skipped)


def _retrieval(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray,
               chunk: int = 1024) -> RetrievalScores:
    """Each test image queries the train split by cosine similarity; R is the number of train images of its class."""
    counts = np.bincount(train_y, minlength=int(max(train_y.max(), test_y.max())) + 1)
    depth = int(counts[np.unique(test_y)].max())
    gallery = torch.from_numpy(np.ascontiguousarray(train_x, dtype=np.float32))
    ranked = []
    for start in range(0, len(test_x), chunk):
        queries = torch.from_numpy(np.ascontiguousarray(test_x[start:start + chunk], dtype=np.float32))
        order = torch.topk(queries @ gallery.T, depth, dim=1).indices.numpy()
        ranked.extend(train_y[order])
    return retrieval_scores(test_y, ranked, counts[test_y])
