"""Convolutional trunks that turn an image batch into one feature vector per image.

The classifier layer of each torchvision ResNet is dropped; what remains ends in global average pooling, so the
trunk accepts any input size.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torchvision
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import nn

from lookalike.errors import LookalikeError


@dataclass(frozen=True)
class BackboneSpec:
    build: Callable[..., nn.Module]
    imagenet_weights: torchvision.models.WeightsEnum
    feature_dim: int


BACKBONES: dict[str, BackboneSpec] = {
    "resnet18": BackboneSpec(torchvision.models.resnet18, torchvision.models.ResNet18_Weights.IMAGENET1K_V1, 512),
    "resnet34": BackboneSpec(torchvision.models.resnet34, torchvision.models.ResNet34_Weights.IMAGENET1K_V1, 512),
    "resnet50": BackboneSpec(torchvision.models.resnet50, torchvision.models.ResNet50_Weights.IMAGENET1K_V2, 2048),
}

# ResNet stages in forward order. Freezing "up to layer4" means every stage before layer4 keeps its weights.
STAGES = ("stem", "layer1", "layer2", "layer3", "layer4")
_STAGE_MODULES = {"stem": ("conv1", "bn1"), **{name: (name,) for name in STAGES[1:]}}


def backbone_spec(name: str) -> BackboneSpec:
    try:
        return BACKBONES[name]
    except KeyError:
        raise LookalikeError(f"unknown backbone {name!r}; choose one of {', '.join(BACKBONES)}") from None


def build_backbone(name: str) -> nn.Module:
    """A randomly initialised ResNet trunk (the classifier replaced by identity)."""
    trunk = backbone_spec(name).build(weights=None)
    trunk.fc = nn.Identity()
    return trunk


def imagenet_state_dict(name: str) -> dict[str, torch.Tensor]:
    """torchvision's published ImageNet weights for `name`, downloaded once into torch's cache."""
    weights = backbone_spec(name).imagenet_weights
    try:
        return weights.get_state_dict(progress=True)
    except OSError as err:  # URLError and friends: offline, proxy, DNS
        raise LookalikeError(
            f"could not download ImageNet weights for {name} from {weights.url} ({err}). "
            "Without network access, fetch that file elsewhere, convert it to safetensors and pass --weights FILE."
        ) from None


def local_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """A state dict from a local safetensors file. Pickle files are refused: loading one can run arbitrary code."""
    path = Path(path)
    if not path.is_file():
        raise LookalikeError(f"weights file not found: {path}")
    try:
        return load_file(path)
    except (SafetensorError, OSError, ValueError) as err:
        raise LookalikeError(
            f"{path}: not a readable safetensors file ({err}). lookalike never unpickles files such as .pth/.pt; "
            "convert one you trust with: python -c \"import torch, safetensors.torch as s; "
            "s.save_file(torch.load('IN.pth', weights_only=True), 'OUT.safetensors')\""
        ) from None


def load_backbone_weights(trunk: nn.Module, state: dict[str, torch.Tensor], source: str) -> None:
    """Load ResNet weights into `trunk`, ignoring the classifier; any other mismatch is an error naming `source`."""
    expected = trunk.state_dict()
    state = {key: value for key, value in state.items() if not key.startswith("fc.")}
    problems = [f"missing {key}" for key in expected if key not in state]
    problems += [f"unexpected {key}" for key in state if key not in expected]
    problems += [
        f"{key} has shape {tuple(value.shape)}, expected {tuple(expected[key].shape)}"
        for key, value in state.items()
        if key in expected and value.shape != expected[key].shape
    ]
    if problems:
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise LookalikeError(f"{source}: weights do not fit this backbone: {'; '.join(problems[:3])}{more}")
    trunk.load_state_dict(state)


def freeze_before(trunk: nn.Module, stage: str | None) -> list[nn.Module]:
    """Freeze every stage before `stage` (None: train everything). Returns the frozen modules.

    The seed recipe trains a pretrained ResNet from conv5_block1 on, which is torchvision's `layer4`.
    """
    if stage is None:
        return []
    if stage not in STAGES:
        raise LookalikeError(f"unknown stage {stage!r}; choose one of {', '.join(STAGES)}")
    frozen = [
        getattr(trunk, module_name)
        for stage_name in STAGES[: STAGES.index(stage)]
        for module_name in _STAGE_MODULES[stage_name]
    ]
    for module in frozen:
        module.requires_grad_(False)
    return frozen
