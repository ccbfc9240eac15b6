"""Trunks by name: the convolutional networks that turn an image batch into one feature vector per image.

Each trunk is registered with what lookalike needs to know of it: how to build it with random weights, how wide its
features are, the input size and normalisation it is used with, the stages that can be frozen (in forward order),
and the published weights it can start from. A new trunk is one module that calls `register_backbone`; the
torchvision ResNets are registered that way in `lookalike.models.resnet`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import nn

from lookalike.errors import LookalikeError
from lookalike.registry import Registry

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class BackboneSpec:
    name: str
    build: Callable[[], nn.Module]
    """A trunk with random weights: a float (N, 3, H, W) batch in, (N, feature_dim) features out."""
    feature_dim: int
    stages: Mapping[str, tuple[str, ...]]
    """The stages that can be frozen, in forward order, each with the names of its sub-modules. Freezing "up to
    a stage" freezes every stage before it."""
    published: Mapping[str, Callable[[], dict[str, torch.Tensor]]] = field(default_factory=dict)
    """Named weights to start from ("imagenet"), each a function that fetches the trunk's state dict."""
    published_here: Callable[[str], bool] = lambda source: False
    """Whether the named published weights can be had without the network: shipped in a package, or cached."""
    pretrained_trainable_from: str | None = None
    """The first stage to train when starting from published weights, unless the user says otherwise."""
    image_size: int = 128
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    ignored_keys: tuple[str, ...] = ()
    """Prefixes of state-dict keys that weights files carry but the trunk has not (a classifier)."""
    preprocess: str = "centre-crop"
    """The preprocessing stage a model on this trunk uses unless told otherwise."""
    embed_from: str = "head"
    """Where a new model reads its embedding unless told otherwise: "head", or "backbone" for a trunk whose
    features are an embedding already."""
    trainable: bool = True
    """False for a trunk that comes trained from elsewhere and has no gradients (dlib's face encoder)."""
    built_trained: str | None = None
    """Where the weights come from when the builder's trunk is trained already ("dlib"); None: random weights."""
    foldable: bool = True
    """Whether torch.fx can trace the trunk to fold its batch norms for inference."""


_BACKBONES: Registry[BackboneSpec] = Registry("backbone")


def register_backbone(spec: BackboneSpec) -> BackboneSpec:
    return _BACKBONES.register(spec.name, spec)


def backbone_spec(name: str) -> BackboneSpec:
    return _BACKBONES[name]


def backbone_names() -> list[str]:
    return list(_BACKBONES)


def build_backbone(name: str) -> nn.Module:
    """A randomly initialised trunk."""
    return backbone_spec(name).build()


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


def starting_weights(name: str, weights: str | Path) -> tuple[dict[str, torch.Tensor], str]:
    """The state dict that `weights` names for backbone `name` (one of its published sources, or a safetensors
    file) and a description of where it came from."""
    published = backbone_spec(name).published
    if str(weights) in published:
        return published[str(weights)](), f"{weights} {name}"
    return local_state_dict(weights), str(weights)


def load_backbone_weights(name: str, trunk: nn.Module, state: dict[str, torch.Tensor], source: str) -> None:
    """Load weights into a trunk of backbone `name`, ignoring the keys it declares foreign (a classifier); any
    other mismatch is an error naming `source`."""
    ignored = backbone_spec(name).ignored_keys
    expected = trunk.state_dict()
    state = {key: value for key, value in state.items() if not key.startswith(ignored)}
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


def check_stage(name: str, stage: str | None) -> None:
    stages = backbone_spec(name).stages
    if stage is not None and stage not in stages:
        choices = ", ".join(stages) or "none: it cannot be frozen in part"
        raise LookalikeError(f"unknown stage {stage!r} for {name}; choose one of {choices}")


def freeze_before(name: str, trunk: nn.Module, stage: str | None) -> list[nn.Module]:
    """Freeze every stage of a trunk of backbone `name` before `stage` (None: train everything). Returns the frozen
    modules."""
    if stage is None:
        return []
    check_stage(name, stage)
    stages = list(backbone_spec(name).stages.items())
    before = stages[: [stage_name for stage_name, _ in stages].index(stage)]
    frozen = [trunk.get_submodule(module) for _, modules in before for module in modules]
    for module in frozen:
        module.requires_grad_(False)
    return frozen
