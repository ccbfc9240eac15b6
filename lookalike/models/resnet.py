"""torchvision's ResNet-18, -34 and -50 as registered backbones: the classifier dropped, so each trunk ends in global
average pooling and accepts any input size. The seed recipe trains a pretrained ResNet from conv5_block1 on, which
is torchvision's `layer4`.

`resnet18-small` is ResNet-18 for small images (CIFAR's 32 px): a 3x3 stride-1 first convolution and no max-pool,
so the image is not shrunk fourfold before the first block, as lightly's and solo-learn's CIFAR benchmarks build it.
It costs at 32 px what the plain ResNet-18 costs at 128 px."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
import torchvision
from torch import nn

from lookalike.errors import LookalikeError
from lookalike.models.backbones import BackboneSpec, register_backbone

STAGES = {"stem": ("conv1", "bn1"), "layer1": ("layer1",), "layer2": ("layer2",), "layer3": ("layer3",),
          "layer4": ("layer4",)}

IMAGENET_WEIGHTS: dict[str, torchvision.models.WeightsEnum] = {
    "resnet18": torchvision.models.ResNet18_Weights.IMAGENET1K_V1,
    "resnet34": torchvision.models.ResNet34_Weights.IMAGENET1K_V1,
    "resnet50": torchvision.models.ResNet50_Weights.IMAGENET1K_V2,
}


def _trunk(build: Callable[..., nn.Module]) -> Callable[[], nn.Module]:
    def trunk() -> nn.Module:
        network = build(weights=None)
        network.fc = nn.Identity()
        return network

    return trunk


def _small_image_trunk() -> nn.Module:
    network = torchvision.models.resnet18(weights=None)
    network.conv1 = nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)
    network.maxpool = nn.Identity()
    network.fc = nn.Identity()
    return network


def _imagenet(name: str) -> Callable[[], dict[str, torch.Tensor]]:
    def download() -> dict[str, torch.Tensor]:
        """torchvision's published ImageNet weights, downloaded once into torch's cache."""
        weights = IMAGENET_WEIGHTS[name]
        try:
            return weights.get_state_dict(progress=True)
        except OSError as err:  # URLError and friends: offline, proxy, DNS
            raise LookalikeError(
                f"could not download ImageNet weights for {name} from {weights.url} ({err}). Without network "
                "access, fetch that file elsewhere, convert it to safetensors and pass --weights FILE."
            ) from None

    return download


def _cached(name: str) -> Callable[[str], bool]:
    def here(source: str) -> bool:
        """Whether torchvision's download of these weights is already in torch's cache."""
        url = IMAGENET_WEIGHTS[name].url
        return source == "imagenet" and (Path(torch.hub.get_dir()) / "checkpoints" / Path(url).name).is_file()

    return here


for _name, _build, _width in (("resnet18", torchvision.models.resnet18, 512),
                              ("resnet34", torchvision.models.resnet34, 512),
                              ("resnet50", torchvision.models.resnet50, 2048)):
    register_backbone(BackboneSpec(name=_name, build=_trunk(_build), feature_dim=_width, stages=STAGES,
                                   published={"imagenet": _imagenet(_name)}, published_here=_cached(_name),
                                   pretrained_trainable_from="layer4",
                                   ignored_keys=("fc.",)))
register_backbone(BackboneSpec(name="resnet18-small", build=_small_image_trunk, feature_dim=512, stages=STAGES,
                               image_size=32))
