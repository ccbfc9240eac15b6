"""The encoder: a ResNet trunk and a small MLP head whose output is an L2-normalised embedding.

Unit-length output makes the inner product a cosine similarity, which is what the gallery searches by, and gives
triplet margins a fixed scale (squared L2 distance between unit vectors lies in [0, 4]).
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from lookalike.errors import LookalikeError
from lookalike.models.backbones import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    backbone_spec,
    build_backbone,
    check_stage,
    freeze_before,
)
from lookalike.models.pair_head import PAIR_HEADS, PairHead
from lookalike.models.whitening import Whitening
from lookalike.preprocess import DEFAULT_STAGE, stage_named

EMBEDDING_LAYERS = ("head", "backbone")
MAX_HEAD_WIDTH = 16_384
"""Wider than any useful embedding head; a layer of 16k x 16k already holds a gigabyte of weights."""
# Settings added after the first release, with the value that reproduces the old behaviour. While a setting holds
# that value it is left out of the digest, so models saved before it existed keep their id.
_ADDED_LATER = {"pair_head": None, "embed_from": "head", "whiten": None, "preprocess": DEFAULT_STAGE}


@dataclass(frozen=True)
class EncoderConfig:
    """Everything needed to rebuild the encoder's architecture and feed it images the way it was trained."""

    backbone: str = "resnet18"
    image_size: int = 128
    # Hidden widths then the embedding width, as in the seed recipe: features -> 512 -> 256 -> 256.
    head: tuple[int, ...] = (512, 256, 256)
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    # The first trainable stage; earlier stages stay frozen. None trains everything.
    trainable_from: str | None = None
    # A same/different head on pairs of embeddings ("l1" or "chi2"), trained by the pair objective; None: no head.
    pair_head: str | None = None
    # Which output search and evaluation use: the head's ("head"), or the backbone's features before it
    # ("backbone"), as SimCLR does when its head is a projection used only by the loss.
    embed_from: str = "head"
    # Width of the whitening fitted after training (see models/whitening.py); None: the embedding is not whitened.
    whiten: int | None = None
    # The preprocessing stage that makes the input square from a decoded image (see lookalike.preprocess).
    preprocess: str = DEFAULT_STAGE

    def __post_init__(self) -> None:
        backbone_spec(self.backbone)  # raises for an unknown name
        stage_named(self.preprocess)  # likewise
        if not 16 <= self.image_size <= 1024:
            raise LookalikeError(f"image size must be between 16 and 1024 pixels, got {self.image_size}")
        if not self.head or any(not 1 <= int(width) <= MAX_HEAD_WIDTH for width in self.head):
            raise LookalikeError(f"head widths must be whole numbers from 1 to {MAX_HEAD_WIDTH}, got "
                                 f"{','.join(map(str, self.head))}")
        if (len(self.mean) != 3 or len(self.std) != 3 or not all(math.isfinite(v) for v in (*self.mean, *self.std))
                or any(s <= 0 for s in self.std)):
            raise LookalikeError(f"the normalisation needs three finite means and three positive finite standard "
                                 f"deviations, got mean {list(self.mean)} and std {list(self.std)}")
        check_stage(self.backbone, self.trainable_from)
        if self.pair_head is not None and self.pair_head not in PAIR_HEADS:
            raise LookalikeError(f"unknown pair head {self.pair_head!r}; choose one of {', '.join(PAIR_HEADS)}")
        if self.embed_from not in EMBEDDING_LAYERS:
            raise LookalikeError(f"unknown embedding layer {self.embed_from!r}; choose one of "
                                 f"{', '.join(EMBEDDING_LAYERS)}")
        if self.whiten is not None and (int(self.whiten) < 1 or self.whiten > self.unwhitened_dim):
            raise LookalikeError(f"the whitening width must be between 1 and {self.unwhitened_dim}, got {self.whiten}")
        if self.whiten is not None and self.pair_head is not None:
            raise LookalikeError("a model with a pair head cannot be whitened: the head was trained on the "
                                 "embeddings as they are")
        object.__setattr__(self, "head", tuple(int(width) for width in self.head))
        object.__setattr__(self, "mean", tuple(float(v) for v in self.mean))
        object.__setattr__(self, "std", tuple(float(v) for v in self.std))

    @classmethod
    def for_backbone(cls, backbone: str = "resnet18", **settings: Any) -> EncoderConfig:
        """A config for `backbone` with the input size, normalisation, preprocessing and embedding layer it
        declares, unless `settings` say otherwise (None counts as not said)."""
        spec = backbone_spec(backbone)
        given = {key: value for key, value in settings.items() if value is not None}
        declared = {"image_size": spec.image_size, "mean": spec.mean, "std": spec.std, "preprocess": spec.preprocess,
                    "embed_from": spec.embed_from}
        return cls(backbone=backbone, **{**declared, **given})

    @property
    def unwhitened_dim(self) -> int:
        return self.head[-1] if self.embed_from == "head" else backbone_spec(self.backbone).feature_dim

    @property
    def embedding_dim(self) -> int:
        return self.whiten or self.unwhitened_dim

    def to_dict(self) -> dict:
        data = asdict(self)
        data["head"] = list(self.head)
        data["mean"] = list(self.mean)
        data["std"] = list(self.std)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> EncoderConfig:
        known = set(cls.__dataclass_fields__)
        unknown = set(data) - known
        if unknown:
            raise LookalikeError(f"unknown encoder settings: {', '.join(sorted(unknown))}")
        settings: dict[str, Any] = {key: tuple(value) if isinstance(value, list) else value
                                    for key, value in data.items()}
        return cls(**settings)

    def digest(self) -> str:
        """A hash of the architecture settings, stable across runs and machines."""
        settings = {key: value for key, value in self.to_dict().items()
                    if not (key in _ADDED_LATER and value == _ADDED_LATER[key])}
        canonical = json.dumps(settings, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


def _mlp_head(in_features: int, widths: tuple[int, ...]) -> nn.Sequential:
    """Dense layers with ReLU and batch norm between them; the last layer is linear."""
    layers: list[nn.Module] = []
    for width in widths[:-1]:
        layers += [nn.Linear(in_features, width), nn.ReLU(inplace=True), nn.BatchNorm1d(width)]
        in_features = width
    layers.append(nn.Linear(in_features, widths[-1]))
    return nn.Sequential(*layers)


class Encoder(nn.Module):
    """Image batch (normalised float, N x 3 x H x W) -> unit-length embeddings (N x embedding_dim).

    The embedding is taken where `config.embed_from` says; an objective may ask for another layer (`at=`), which
    is how SimCLR's loss sees the projection head while search sees the backbone features.
    """

    _mean: torch.Tensor
    _std: torch.Tensor

    def __init__(self, config: EncoderConfig) -> None:
        super().__init__()
        self.config = config
        # How the weights came to be (random init, ImageNet, a file, a training run); saved beside the config.
        self.origin: dict = {}
        self.backbone = build_backbone(config.backbone)
        self.head = _mlp_head(backbone_spec(config.backbone).feature_dim, config.head)
        self.pair_head = PairHead(config.embedding_dim, config.pair_head) if config.pair_head else None
        self.whitening = Whitening(config.unwhitened_dim, config.whiten) if config.whiten else None
        self._frozen = freeze_before(config.backbone, self.backbone, config.trainable_from)
        self.register_buffer("_mean", torch.tensor(config.mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("_std", torch.tensor(config.std).view(1, 3, 1, 1), persistent=False)

    def train(self, mode: bool = True) -> Encoder:
        """Frozen stages stay in eval mode, so their batch-norm statistics stay as they were loaded."""
        super().train(mode)
        for module in self._frozen:
            module.eval()
        return self

    def normalise(self, pixels: torch.Tensor) -> torch.Tensor:
        """RGB (N x 3 x H x W), uint8 or float in [0, 1] (augmented views) -> the float input the backbone expects."""
        if pixels.dtype == torch.uint8:
            pixels = pixels.to(self._mean.dtype) / 255.0
        return (pixels - self._mean) / self._std

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """Backbone features before the head (what a linear probe or projection head may use)."""
        return self.backbone(images)

    def forward(self, images: torch.Tensor, at: str | None = None) -> torch.Tensor:
        """Unit-length output of layer `at` ("head" or "backbone"), or by default the embedding: the configured
        layer, whitened when the model has a whitening. Objectives pass `at` through this call rather than calling
        a sub-module, so a distributed wrapper sees it."""
        features = self.features(images)
        if (at or self.config.embed_from) == "head":
            features = self.head(features)
        features = F.normalize(features.float(), dim=1)
        if at is None and self.config.whiten and self.whitening is not None:  # evaluate may switch it off
            features = F.normalize(self.whitening(features), dim=1)
        return features
