import torch
import torch.nn.functional as F
from tiny_objective_inputs import TinyEncoder, noisy_views

from lookalike.models.pair_head import PairHead
from lookalike.objectives import PairObjective, random_derangement


def _views(batch: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    return noisy_views(batch)


def test_derangement_is_a_permutation_without_fixed_points():
    generator = torch.Generator().manual_seed(0)
    for n in range(2, 12):
        for _ in range(20):
            sigma = random_derangement(n, generator)
            assert sorted(sigma.tolist()) == list(range(n))
            assert (sigma != torch.arange(n)).all()


def test_derangement_pairs_an_item_with_every_other_item_over_draws():
    generator = torch.Generator().manual_seed(0)
    partners = {random_derangement(5, generator)[0].item() for _ in range(200)}
    assert partners == {1, 2, 3, 4}


def test_loss_is_binary_cross_entropy_over_same_and_derangement_pairs():
    encoder, head, (first, second) = TinyEncoder(), PairHead(16), _views(4)
    output = PairObjective(head)(encoder, first, second, torch.Generator().manual_seed(5))
    sigma = random_derangement(4, torch.Generator().manual_seed(5))
    z1, z2 = encoder(first), encoder(second)
    logits = torch.cat([head(z1, z2), head(z1, z2[sigma])])
    labels = torch.tensor([1.0] * 4 + [0.0] * 4)
    torch.testing.assert_close(output.loss, F.binary_cross_entropy_with_logits(logits, labels))
    assert output.stats["pair_accuracy"] == ((logits > 0) == (labels > 0.5)).float().mean().item()


def test_a_single_image_gives_only_the_same_pair():
    encoder, head, (first, second) = TinyEncoder(), PairHead(16), _views(1)
    output = PairObjective(head)(encoder, first, second)
    logit = head(encoder(first), encoder(second))
    torch.testing.assert_close(output.loss, F.softplus(-logit[0]))
    assert output.stats["pair_accuracy"] == float(logit.item() > 0)


def test_head_is_used_but_not_owned():
    head = PairHead(16)
    objective = PairObjective(head)
    assert objective.head is head
    assert list(objective.parameters()) == []


def test_gradients_reach_the_encoder_and_the_head():
    encoder, head = TinyEncoder(), PairHead(16)
    PairObjective(head)(encoder, *_views(), torch.Generator().manual_seed(0)).loss.backward()
    for parameter in [*encoder.parameters(), *head.parameters()]:
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0


def test_a_few_adam_steps_reduce_the_loss():
    torch.manual_seed(0)
    encoder, head, (first, second) = TinyEncoder(), PairHead(16), _views()
    objective = PairObjective(head)
    optimiser = torch.optim.Adam([*encoder.parameters(), *head.parameters()], lr=1e-2)
    generator = torch.Generator().manual_seed(0)
    losses = []
    for _ in range(30):
        loss = objective(encoder, first, second, generator).loss
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_same_seed_gives_the_same_loss():
    encoder, head, (first, second) = TinyEncoder(), PairHead(16), _views()
    objective = PairObjective(head)
    losses = [objective(encoder, first, second, torch.Generator().manual_seed(s)).loss.item() for s in (3, 3, 4)]
    assert losses[0] == losses[1]
    assert losses[0] != losses[2]
