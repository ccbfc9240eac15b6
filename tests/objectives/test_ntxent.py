import math

import pytest
import torch
from imagegen import TINY_CONFIG

from lookalike.errors import LookalikeError
from lookalike.models import create_encoder
from lookalike.objectives import NTXentLoss, NTXentObjective
from lookalike.objectives.choice import ObjectiveChoice


def reference_nt_xent(first: torch.Tensor, second: torch.Tensor, temperature: float) -> torch.Tensor:
    """SimCLR's loss written out term by term: for each of the 2N views, minus the log of its positive's share
    of exp(cosine / T) over every other view."""
    views = torch.cat([first, second]).double()
    views = views / views.norm(dim=1, keepdim=True)
    n = len(first)
    total = 0.0
    for i in range(2 * n):
        positive = (i + n) % (2 * n)
        numerator = torch.exp(views[i] @ views[positive] / temperature)
        denominator = sum(torch.exp(views[i] @ views[k] / temperature) for k in range(2 * n) if k != i)
        total = total - torch.log(numerator / denominator)
    return total / (2 * n)


@pytest.mark.parametrize("temperature", [0.1, 0.5, 1.0])
def test_loss_equals_the_reference_for_a_full_and_a_short_last_batch(temperature):
    loss = NTXentLoss(temperature)
    generator = torch.Generator().manual_seed(0)
    for n in (8, 5, 2):  # the same module serves an 8-image batch, then a shorter odd one
        first, second = torch.randn(n, 16, generator=generator), torch.randn(n, 16, generator=generator)
        torch.testing.assert_close(loss(first, second).double(), reference_nt_xent(first, second, temperature),
                                   rtol=1e-5, atol=1e-6)


def test_identical_embeddings_give_log_of_the_other_views():
    for n in (1, 4, 7):
        same = torch.ones(n, 8)
        assert NTXentLoss(0.3)(same, same).item() == pytest.approx(math.log(2 * n - 1), abs=1e-6)


def test_logits_put_the_positive_first():
    first = torch.eye(3)  # three orthogonal images, each identical to its second view
    logits = NTXentLoss(1.0).logits(first, first.clone())
    assert logits.shape == (6, 5)
    assert torch.equal(logits[:, 0], torch.ones(6))
    assert torch.equal(logits[:, 1:], torch.zeros(6, 4))


def test_temperature_must_be_positive():
    with pytest.raises(LookalikeError, match="temperature"):
        NTXentLoss(0.0)
    with pytest.raises(LookalikeError, match="temperature"):
        ObjectiveChoice("simclr", temperature=-1)


def test_mismatched_views_are_refused():
    with pytest.raises(LookalikeError, match="same shape"):
        NTXentLoss()(torch.randn(4, 8), torch.randn(3, 8))


def test_gradients_reach_the_encoder_through_the_projection_head():
    encoder = create_encoder(TINY_CONFIG.__class__(**{**TINY_CONFIG.to_dict(), "embed_from": "backbone"}), seed=0)
    generator = torch.Generator().manual_seed(1)
    first, second = (torch.rand(4, 3, 32, 32, generator=generator) for _ in range(2))
    output = NTXentObjective(0.5)(encoder, encoder.normalise(first), encoder.normalise(second))
    output.loss.backward()
    assert encoder.backbone.conv1.weight.grad.abs().sum() > 0
    assert encoder.head[-1].weight.grad.abs().sum() > 0  # the loss reads the projection, not the embedding layer
    assert 0.0 <= output.stats["positive_top1"] <= 1.0


def test_simclr_choice_augments_both_views_and_projects_for_the_loss_only():
    choice = ObjectiveChoice("simclr")
    assert choice.default_views == "simclr" and choice.default_embed_from == "backbone"
    assert choice.default_head == (512, 128)
    augmented = object()
    assert choice.views(augmented) == (augmented, augmented)
    assert choice.describe() == {"name": "simclr", "temperature": 0.2}
