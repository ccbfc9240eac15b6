import pytest
import torch

from lookalike.errors import LookalikeError
from lookalike.models.pair_head import PAIR_HEADS, PairHead


def _unit(rows: int, dim: int, seed: int) -> torch.Tensor:
    return torch.nn.functional.normalize(torch.randn(rows, dim, generator=torch.Generator().manual_seed(seed)), dim=1)


@pytest.mark.parametrize("kind", PAIR_HEADS)
def test_logits_and_probabilities_have_one_value_per_pair(kind):
    head = PairHead(16, kind)
    first, second = _unit(5, 16, 0), _unit(5, 16, 1)
    assert head(first, second).shape == (5,)
    probability = head.probability(first, second)
    assert probability.shape == (5,)
    torch.testing.assert_close(probability, torch.sigmoid(head(first, second)))


@pytest.mark.parametrize("kind", PAIR_HEADS)
def test_untrained_head_finds_identical_pairs_more_alike_than_unrelated_ones(kind):
    head = PairHead(64, kind)
    first, unrelated = _unit(32, 64, 0), _unit(32, 64, 1)
    same = head.probability(first, first)
    different = head.probability(first, unrelated)
    assert (same > 0.5).all()
    assert (different < 0.5).all()


def test_l1_head_weighs_absolute_differences():
    head = PairHead(3, "l1")
    with torch.no_grad():
        head.linear.weight.copy_(torch.tensor([[1.0, 2.0, 3.0]]))
        head.linear.bias.fill_(0.5)
    first, second = torch.tensor([[1.0, -1.0, 0.0]]), torch.tensor([[0.0, 1.0, 0.5]])
    # |1 - 0| * 1 + |-1 - 1| * 2 + |0 - 0.5| * 3 + 0.5
    torch.testing.assert_close(head(first, second), torch.tensor([1.0 + 4.0 + 1.5 + 0.5]))


def test_chi2_equals_the_classic_formula_on_non_negative_features():
    head = PairHead(4, "chi2")
    with torch.no_grad():
        head.linear.weight.fill_(1.0)
        head.linear.bias.zero_()
    generator = torch.Generator().manual_seed(0)
    first, second = torch.rand(6, 4, generator=generator) + 0.1, torch.rand(6, 4, generator=generator) + 0.1
    classic = ((first - second) ** 2 / (first + second)).sum(dim=1)
    torch.testing.assert_close(head(first, second), classic, rtol=1e-4, atol=1e-5)


def test_chi2_is_finite_where_both_features_are_zero():
    head = PairHead(2, "chi2")
    logits = head(torch.zeros(1, 2), torch.zeros(1, 2))
    torch.testing.assert_close(logits, head.linear.bias)


def test_logits_are_float32_for_half_precision_inputs():
    head = PairHead(8)
    assert head(_unit(2, 8, 0).half(), _unit(2, 8, 1).half()).dtype == torch.float32


def test_unknown_kind_lists_the_known_ones():
    with pytest.raises(LookalikeError, match="l1, chi2"):
        PairHead(8, "cosine")
