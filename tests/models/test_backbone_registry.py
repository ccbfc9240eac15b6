"""A new backbone is one registration: a toy trunk gets its own input size and normalisation, can start from its
published weights or a file, freezes by its own stages, and is saved, loaded, indexed and searched like a ResNet."""

import numpy as np
import pytest
import torch
from safetensors.torch import save_file
from torch import nn

import lookalike
from lookalike.embed import EmbedSettings
from lookalike.errors import LookalikeError
from lookalike.models import BackboneSpec, EncoderConfig, backbone_names, create_encoder, register_backbone

TOY = "toy-cnn"


def _toy_trunk() -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 8, 3, stride=2), nn.ReLU(), nn.Conv2d(8, 12, 3), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten())


def _published() -> dict[str, torch.Tensor]:
    torch.manual_seed(7)
    return _toy_trunk().state_dict()


if TOY not in backbone_names():
    register_backbone(BackboneSpec(name=TOY, build=_toy_trunk, feature_dim=12, stages={"first": ("0",),
                                                                                          "second": ("2",)},
                                   published={"toy-init": _published}, pretrained_trainable_from="second",
                                   image_size=24, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25)))


def test_a_registered_backbone_brings_its_own_input_size_and_normalisation():
    config = EncoderConfig.for_backbone(TOY, head=(16, 8))
    assert (config.image_size, config.mean, config.std) == (24, (0.5, 0.5, 0.5), (0.25, 0.25, 0.25))
    assert EncoderConfig.for_backbone(TOY, image_size=40).image_size == 40
    assert EncoderConfig.for_backbone("resnet18").image_size == 128


def test_it_starts_from_its_published_weights_or_a_file_and_freezes_by_its_own_stages(tmp_path):
    config = EncoderConfig.for_backbone(TOY, head=(16, 8), trainable_from="second")
    encoder = create_encoder(config, weights="toy-init")
    torch.testing.assert_close(encoder.backbone.state_dict(), _published())
    assert encoder.origin["init"] == "toy-init"
    assert not encoder.backbone[0].weight.requires_grad and encoder.backbone[2].weight.requires_grad
    save_file(_published(), tmp_path / "toy.safetensors")
    from_file = create_encoder(config, weights=tmp_path / "toy.safetensors")
    torch.testing.assert_close(from_file.backbone.state_dict(), _published())
    with pytest.raises(LookalikeError, match="unknown stage 'layer4' for toy-cnn; choose one of first, second"):
        EncoderConfig.for_backbone(TOY, trainable_from="layer4")


def test_a_model_on_it_is_saved_loaded_indexed_and_searched(image_folder, tmp_path):
    model = lookalike.create_model(EncoderConfig.for_backbone(TOY, head=(16, 8)), settings=EmbedSettings(workers=0))
    model.save(tmp_path / "model")
    loaded = lookalike.load_model(tmp_path / "model", EmbedSettings(workers=0))
    assert loaded.id == model.id and loaded.config.backbone == TOY
    with lookalike.open(tmp_path / "g", loaded, settings=EmbedSettings(workers=0)) as session:
        session.index(image_folder)
        query = (image_folder / "class2" / "img1.png").resolve()
        best = session.search(query, k=1)[0]
    assert best.image.path == str(query) and best.score > 0.999
    np.testing.assert_allclose(loaded.embed(query), model.embed(query), atol=1e-6)
