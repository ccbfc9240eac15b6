import json

import pytest
import torch

from lookalike.errors import LookalikeError
from lookalike.models import Encoder, EncoderConfig, create_encoder, load_model, save_model

TINY = EncoderConfig(backbone="resnet18", image_size=32, head=(32, 16))


def test_output_is_unit_length_with_the_configured_dimension():
    encoder = create_encoder(TINY)
    out = encoder(torch.randn(3, 3, 32, 32))
    assert out.shape == (3, 16)
    torch.testing.assert_close(out.norm(dim=1), torch.ones(3))


@pytest.mark.parametrize(("backbone", "features"), [("resnet18", 512), ("resnet34", 512), ("resnet50", 2048),
                                                    ("resnet18-small", 512), ("efficientnet-lite0", 1280)])
def test_each_backbone_feeds_the_head_its_feature_width(backbone, features):
    encoder = create_encoder(EncoderConfig(backbone=backbone, image_size=32, head=(8,)))
    assert encoder.features(torch.randn(2, 3, 32, 32)).shape == (2, features)
    assert encoder.head[0].in_features == features


def test_the_small_image_resnet_keeps_the_whole_image_for_its_first_block():
    trunk = create_encoder(EncoderConfig.for_backbone("resnet18-small", head=(8,))).backbone
    assert EncoderConfig.for_backbone("resnet18-small").image_size == 32
    stem = torch.nn.Sequential(trunk.conv1, trunk.bn1, trunk.relu, trunk.maxpool, trunk.layer1)
    assert stem(torch.randn(1, 3, 32, 32)).shape == (1, 64, 32, 32)  # the plain ResNet-18's: (1, 64, 8, 8)


def test_default_head_follows_the_seed_recipe():
    encoder = Encoder(EncoderConfig())
    widths = [layer.out_features for layer in encoder.head if isinstance(layer, torch.nn.Linear)]
    assert widths == [512, 256, 256]


def test_seed_makes_creation_deterministic():
    a, b, c = create_encoder(TINY, seed=1), create_encoder(TINY, seed=1), create_encoder(TINY, seed=2)
    x = torch.randn(2, 3, 32, 32)
    torch.testing.assert_close(a(x), b(x))
    assert not torch.allclose(a(x), c(x))


def test_creation_leaves_the_global_random_state_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    create_encoder(TINY, seed=5)
    torch.testing.assert_close(torch.rand(3), expected)


def test_freezing_before_layer4_trains_only_layer4_and_the_head():
    encoder = create_encoder(EncoderConfig(image_size=32, head=(8,), trainable_from="layer4"))
    trainable = {name.split(".")[1] for name, p in encoder.backbone.named_parameters(prefix="b") if p.requires_grad}
    assert trainable == {"layer4"}
    assert all(p.requires_grad for p in encoder.head.parameters())
    encoder.train()
    assert not encoder.backbone.layer3.training and not encoder.backbone.bn1.training
    assert encoder.backbone.layer4.training


def test_normalise_maps_uint8_pixels_with_the_configured_statistics():
    encoder = Encoder(TINY)
    pixels = torch.full((1, 3, 2, 2), 255, dtype=torch.uint8)
    expected = (1.0 - torch.tensor(TINY.mean)) / torch.tensor(TINY.std)
    torch.testing.assert_close(encoder.normalise(pixels)[0, :, 0, 0], expected)


@pytest.mark.parametrize(
    "settings",
    [{"backbone": "vgg16"}, {"image_size": 8}, {"head": ()}, {"head": (16, 0)}, {"trainable_from": "layer9"},
     {"std": (1.0, 0.0, 1.0)}, {"embed_from": "layer4"}],
)
def test_invalid_settings_are_refused_with_a_clear_error(settings):
    with pytest.raises(LookalikeError):
        EncoderConfig(**settings)


def test_config_round_trips_through_a_dict_and_its_digest_is_stable():
    config = EncoderConfig(backbone="resnet34", image_size=96, head=(64, 32), trainable_from="layer3")
    again = EncoderConfig.from_dict(config.to_dict())
    assert again == config
    assert again.digest() == config.digest()
    assert EncoderConfig(image_size=97).digest() != EncoderConfig(image_size=96).digest()


def test_unknown_config_keys_are_refused():
    with pytest.raises(LookalikeError, match="unknown encoder settings: colour"):
        EncoderConfig.from_dict({**TINY.to_dict(), "colour": True})


def test_models_saved_before_later_settings_keep_their_hash(tmp_path):
    folder = tmp_path / "old"
    save_model(create_encoder(EncoderConfig(image_size=32, head=(8,)), seed=0), folder)
    meta = json.loads((folder / "config.json").read_text())
    for later in ("pair_head", "embed_from", "whiten"):
        del meta["architecture"][later]  # as the first release wrote it
    (folder / "config.json").write_text(json.dumps(meta))
    loaded = load_model(folder).config
    assert loaded.pair_head is None and loaded.embed_from == "head" and loaded.whiten is None
    with_head = EncoderConfig(image_size=32, head=(8,), pair_head="l1")
    assert with_head.digest() != EncoderConfig(image_size=32, head=(8,)).digest()


def test_embedding_from_the_backbone_skips_the_head_unless_asked_for_it():
    config = EncoderConfig(image_size=32, head=(32, 16), embed_from="backbone")
    encoder = create_encoder(config, seed=0).eval()
    images = torch.rand(3, 3, 32, 32)
    assert config.embedding_dim == 512 and config.digest() != EncoderConfig(image_size=32, head=(32, 16)).digest()
    embedding, projection = encoder(images), encoder(images, at="head")
    assert embedding.shape == (3, 512) and projection.shape == (3, 16)
    torch.testing.assert_close(embedding, torch.nn.functional.normalize(encoder.features(images), dim=1))
    torch.testing.assert_close(projection.norm(dim=1), torch.ones(3))
