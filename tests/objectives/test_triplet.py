import pytest
import torch
from tiny_objective_inputs import TinyEncoder, noisy_views

from lookalike.errors import LookalikeError
from lookalike.objectives import (
    DEFAULT_MARGIN,
    BatchHardMiner,
    RandomMiner,
    TripletDistance,
    TripletMarginLoss,
    TripletObjective,
    active_fraction,
)


def _views(batch: int = 6) -> tuple[torch.Tensor, torch.Tensor]:
    return noisy_views(batch)


def test_distance_layer_gives_squared_l2_for_each_triplet():
    anchor = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    positive = torch.tensor([[0.8, 0.6], [0.0, 1.0]])
    negative = torch.tensor([[0.0, 1.0], [0.0, -1.0]])
    d_ap, d_an = TripletDistance()(anchor, positive, negative)
    torch.testing.assert_close(d_ap, torch.tensor([0.04 + 0.36, 0.0]))
    torch.testing.assert_close(d_an, torch.tensor([2.0, 4.0]))


def test_loss_is_zero_once_the_negative_is_a_margin_farther():
    loss = TripletMarginLoss(margin=0.5)
    assert loss(torch.tensor([1.0]), torch.tensor([1.5])).item() == 0.0  # exactly at the margin
    assert loss(torch.tensor([1.0]), torch.tensor([4.0])).item() == 0.0


def test_margin_makes_a_correctly_ordered_triplet_active():
    # Unit vectors: d_ap = |(1,0) - (0.8,0.6)|^2 = 0.4 and d_an = |(1,0) - (0.6,0.8)|^2 = 0.8; the negative is
    # farther, yet 0.4 - 0.8 + 0.5 = 0.1 is still owed.
    anchor, positive, negative = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.8, 0.6]]), torch.tensor([[0.6, 0.8]])
    d_ap, d_an = TripletDistance()(anchor, positive, negative)
    torch.testing.assert_close(TripletMarginLoss(margin=0.5)(d_ap, d_an), torch.tensor(0.1))
    assert TripletMarginLoss(margin=0.0)(d_ap, d_an).item() == 0.0


def test_loss_is_the_mean_hinge_over_triplets():
    d_ap, d_an = torch.tensor([1.0, 1.0, 1.0]), torch.tensor([4.0, 1.0, 0.5])
    # hinges with margin 0.25: 0, 0.25, 0.75
    torch.testing.assert_close(TripletMarginLoss(margin=0.25)(d_ap, d_an), torch.tensor(1.0 / 3.0))
    assert active_fraction(d_ap, d_an, 0.25) == pytest.approx(2 / 3)


def test_no_triplets_give_a_zero_loss_that_still_backpropagates():
    d_ap, d_an = torch.empty(0, requires_grad=True), torch.empty(0, requires_grad=True)
    loss = TripletMarginLoss()(d_ap, d_an)
    assert loss.item() == 0.0 and loss.grad_fn is not None
    loss.backward()
    assert d_ap.grad is not None and d_ap.grad.shape == (0,)
    assert active_fraction(d_ap, d_an, DEFAULT_MARGIN) == 0.0


def test_negative_margin_is_refused():
    with pytest.raises(LookalikeError, match="margin"):
        TripletMarginLoss(margin=-0.1)


def test_objective_reports_active_share_and_triplet_count():
    first, second = _views(4)
    output = TripletObjective(BatchHardMiner())(TinyEncoder(), first, second)
    assert output.loss.dim() == 0
    assert output.stats["triplets"] == 8.0  # every item of both views anchors one triplet
    assert 0.0 <= output.stats["active"] <= 1.0


def test_objective_embeds_both_views_in_one_pass():
    calls = []
    encoder = TinyEncoder()
    encoder.register_forward_hook(lambda module, inputs, output: calls.append(len(inputs[0])))
    TripletObjective(BatchHardMiner())(encoder, *_views(4))
    assert calls == [8]


def test_gradients_reach_the_encoder():
    encoder = TinyEncoder()
    TripletObjective(RandomMiner(), margin=1.0)(encoder, *_views(), torch.Generator().manual_seed(0)).loss.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in encoder.parameters())


def test_a_few_adam_steps_reduce_the_loss():
    torch.manual_seed(0)
    encoder, first, second = TinyEncoder(), *_views()
    objective = TripletObjective(BatchHardMiner(), margin=0.5)
    optimiser = torch.optim.Adam(encoder.parameters(), lr=1e-2)
    losses = []
    for _ in range(20):
        loss = objective(encoder, first, second).loss
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    assert losses[0] > 0 and losses[-1] < 0.5 * losses[0]


def test_same_seed_gives_the_same_loss():
    encoder, first, second = TinyEncoder(), *_views()
    objective = TripletObjective(RandomMiner(), margin=1.0)
    losses = [objective(encoder, first, second, torch.Generator().manual_seed(s)).loss for s in (7, 7, 8)]
    assert losses[0].item() == losses[1].item()
    assert losses[0].item() != losses[2].item()


def test_the_loss_reads_the_head_whatever_layer_search_embeds_from():
    asked = []

    class Recording(TinyEncoder):
        def forward(self, images, at=None):
            asked.append(at)
            return super().forward(images, at)

    TripletObjective(BatchHardMiner())(Recording(), *_views(4))
    assert asked == ["head"]
