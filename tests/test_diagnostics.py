"""The label-free diagnostics on embeddings whose answers are known exactly."""

import math

import pytest
import torch
import torch.nn.functional as F

from lookalike.diagnostics import alignment, effective_rank, measure, uniformity, verdict


def test_orthonormal_embeddings_are_as_spread_as_they_can_be():
    basis = torch.eye(6)
    assert uniformity(basis) == pytest.approx(-4.0)  # every pair at squared distance 2: log exp(-2 * 2)
    assert effective_rank(basis) == pytest.approx(6.0)


def test_a_collapsed_embedding_has_uniformity_0_and_rank_1():
    point = F.normalize(torch.randn(1, 16), dim=1).repeat(10, 1)
    assert uniformity(point) == pytest.approx(0.0)
    assert effective_rank(point) == pytest.approx(1.0)
    assert math.isnan(uniformity(point[:1]))


def test_alignment_is_the_mean_squared_distance_of_the_two_views():
    first = torch.eye(4)
    assert alignment(first, first) == 0.0
    assert alignment(first, -first) == pytest.approx(4.0)
    assert alignment(first, first.roll(1, dims=0)) == pytest.approx(2.0)


def test_the_verdict_names_a_collapse_and_a_healthy_run():
    healthy_start = measure(torch.eye(8)[[0, 0, 1, 1]], torch.eye(8)[[1, 2, 0, 3]])
    healthy_end = measure(torch.eye(8)[:4], torch.eye(8)[:4])
    collapsed = measure(torch.eye(8)[[0, 0, 0, 0]], torch.eye(8)[[0, 0, 0, 0]])
    assert verdict(healthy_start, healthy_end).startswith("Training spread the embedding out and pulled views")
    assert verdict(healthy_start, collapsed).startswith("The embedding collapsed")
    assert verdict(healthy_end, healthy_end).startswith("After one epoch the embedding is not collapsed")
    assert verdict({}, healthy_end) is None


def test_only_the_first_sample_of_a_large_validation_set_is_measured(monkeypatch):
    from lookalike import diagnostics

    monkeypatch.setattr(diagnostics, "SAMPLE", 4)
    spread, crowded = torch.eye(8)[:4], torch.eye(8)[[0] * 4]
    assert measure(torch.cat([spread, crowded]), torch.cat([spread, crowded])) == measure(spread, spread)
