import torch

from lookalike.objectives import pairwise_squared_l2, squared_l2


def test_pairwise_matches_cdist_squared():
    generator = torch.Generator().manual_seed(0)
    x, y = torch.randn(7, 5, generator=generator), torch.randn(4, 5, generator=generator)
    torch.testing.assert_close(pairwise_squared_l2(x, y), torch.cdist(x, y) ** 2, atol=1e-5, rtol=1e-5)


def test_pairwise_never_goes_below_zero_for_identical_rows():
    x = torch.nn.functional.normalize(torch.randn(64, 128, generator=torch.Generator().manual_seed(1)), dim=1)
    distances = pairwise_squared_l2(x, x)
    assert distances.min() >= 0
    assert distances.diagonal().max() < 1e-5


def test_row_wise_distance_on_hand_computed_vectors():
    x = torch.tensor([[0.0, 0.0], [1.0, 2.0]])
    y = torch.tensor([[3.0, 4.0], [1.0, 2.0]])
    torch.testing.assert_close(squared_l2(x, y), torch.tensor([25.0, 0.0]))
