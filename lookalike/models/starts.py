"""The encoder a new gallery embeds with when the user names no model.

Random convolutional weights find exact and resized copies and little else, so the default is the best ImageNet
network this machine has without the network: EfficientNet-Lite0, whose weights ship in a package lookalike depends
on, else a torchvision ResNet whose weights are already cached. Its pooled features are the embedding (a new head
would only scramble them). Random weights remain the last resort, and the start always says which it is.
"""

from __future__ import annotations

from dataclasses import dataclass

from lookalike.models.backbones import backbone_spec
from lookalike.models.encoder import EncoderConfig

PREFERENCE = ("efficientnet-lite0", "resnet50", "resnet34", "resnet18")
"""Backbones tried in order, best search quality per CPU-second first."""
FALLBACK = "resnet18"


@dataclass(frozen=True)
class Start:
    """A new model as the default makes it: its architecture and the weights its backbone starts from."""

    config: EncoderConfig
    weights: str | None
    """A published source of the backbone ("imagenet"), or None for random weights."""

    def describe(self) -> str:
        if self.weights is None:
            return (f"{self.config.backbone} with random weights (no pretrained weights are available offline; "
                    "train a model, or pass --model)")
        return f"{self.config.backbone} pretrained on {self.weights}, its pooled features as the embedding"


def default_start() -> Start:
    for name in PREFERENCE:
        if backbone_spec(name).published_here("imagenet"):
            return Start(EncoderConfig.for_backbone(name, embed_from="backbone"), "imagenet")
    return Start(EncoderConfig.for_backbone(FALLBACK), None)
