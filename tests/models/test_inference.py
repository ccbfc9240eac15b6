import torch

from lookalike.models import EncoderConfig, create_encoder
from lookalike.models.inference import for_inference

CONFIG = EncoderConfig(backbone="resnet18", image_size=32, head=(32, 16))


def _trained_looking(encoder):
    """Give every batch norm statistics and an affine transform far from the identity, as training would, so a
    wrong fold cannot hide behind mean 0, variance 1."""
    generator = torch.Generator().manual_seed(0)
    for module in encoder.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            n = module.num_features
            module.running_mean.copy_(torch.randn(n, generator=generator) * 0.5)
            module.running_var.copy_(torch.rand(n, generator=generator) * 2 + 0.1)
            module.weight.data.copy_(torch.randn(n, generator=generator))
            module.bias.data.copy_(torch.randn(n, generator=generator))
    return encoder.eval()


def _batch_norms(module):
    return [m for m in module.modules() if isinstance(m, torch.nn.BatchNorm2d)]


def test_folding_removes_every_backbone_batch_norm_and_keeps_the_embeddings():
    encoder = _trained_looking(create_encoder(CONFIG, seed=0))
    images = torch.randn(4, 3, 32, 32)
    prepared = for_inference(encoder)
    assert _batch_norms(encoder.backbone) and not _batch_norms(prepared.backbone)
    with torch.inference_mode():
        torch.testing.assert_close(prepared(images), encoder(images), rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(prepared.features(images), encoder.features(images), rtol=1e-4, atol=1e-4)


def test_the_encoder_passed_in_is_left_as_it_was():
    encoder = create_encoder(CONFIG, seed=0).train()
    before = {name: value.clone() for name, value in encoder.state_dict().items()}
    for_inference(encoder)
    assert encoder.training and all(p.requires_grad for p in encoder.head.parameters())
    after = encoder.state_dict()
    assert before.keys() == after.keys()
    assert all(torch.equal(before[name], after[name]) for name in before)


def test_the_copy_is_frozen_in_eval_mode():
    prepared = for_inference(create_encoder(CONFIG, seed=0).train())
    assert not prepared.training
    assert not any(p.requires_grad for p in prepared.parameters())
