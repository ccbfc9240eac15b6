"""Shrinkage PCA whitening: what it does to the vectors it was fitted on, and the inputs it refuses."""

from __future__ import annotations

import pytest
import torch

from lookalike.errors import LookalikeError
from lookalike.models import EncoderConfig, create_encoder
from lookalike.models.whitening import Whitening, fit_whitening


def _correlated(count=400, dim=12, seed=0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    mixing = torch.randn(dim, dim, generator=generator) * torch.logspace(0, -2, dim)  # very unequal variances
    return torch.randn(count, dim, generator=generator) @ mixing.T + 3.0


def _apply(vectors, mean, projection) -> torch.Tensor:
    whitening = Whitening(*projection.shape)
    whitening.load_state_dict({"mean": mean, "projection": projection})
    return whitening(vectors)


def test_without_shrinkage_the_fitted_vectors_come_out_centred_with_identity_covariance():
    vectors = _correlated()
    out = _apply(vectors, *fit_whitening(vectors, shrinkage=0.0))
    torch.testing.assert_close(out.mean(dim=0), torch.zeros(12), atol=1e-4, rtol=0)
    torch.testing.assert_close(torch.cov(out.T), torch.eye(12), atol=1e-3, rtol=0)


def test_shrinkage_caps_the_small_directions_instead_of_blowing_them_up():
    vectors, shrinkage = _correlated(), 0.01
    out = _apply(vectors, *fit_whitening(vectors, shrinkage=shrinkage))
    variances = torch.linalg.eigvalsh(torch.cov(out.T)).flip(0)
    raw = torch.linalg.eigvalsh(torch.cov(vectors.T).double()).flip(0).float()
    torch.testing.assert_close(variances, raw / (raw + shrinkage * raw[0]), atol=1e-3, rtol=1e-3)
    assert variances[0] > 0.98 and variances[-1] < 0.1  # the largest is nearly whitened, the smallest kept small


def test_dims_keeps_the_leading_directions_and_defaults_to_what_the_vectors_span():
    vectors = _correlated(count=5)
    mean, projection = fit_whitening(vectors)
    assert projection.shape == (12, 4)  # 5 vectors span 4 directions around their mean
    assert fit_whitening(_correlated(), dims=3)[1].shape == (12, 3)


@pytest.mark.parametrize(
    "vectors, settings, message",
    [(torch.ones(1, 4), {}, "at least 2 images"),
     (torch.ones(6, 4), {}, "same embedding"),
     (_correlated(count=5), {"dims": 5}, "span at most 4 directions"),
     (_correlated(), {"shrinkage": -0.1}, "shrinkage must be at least 0")],
)
def test_unusable_inputs_are_refused_with_the_reason(vectors, settings, message):
    with pytest.raises(LookalikeError, match=message):
        fit_whitening(vectors, **settings)


def test_a_whitened_encoder_whitens_only_its_embedding_and_stays_unit_length():
    config = EncoderConfig(image_size=32, head=(32, 16), whiten=8)
    encoder = create_encoder(config, seed=0).eval()
    mean, projection = fit_whitening(torch.randn(50, 16))
    encoder.whitening.load_state_dict({"mean": mean, "projection": projection[:, :8]})
    images = torch.rand(4, 3, 32, 32)
    with torch.no_grad():
        head = encoder(images, at="head")
        expected = torch.nn.functional.normalize((head - mean) @ projection[:, :8], dim=1)
        torch.testing.assert_close(encoder(images), expected)
    assert config.embedding_dim == 8 and head.shape == (4, 16)


@pytest.mark.parametrize("settings", [{"whiten": 17}, {"whiten": 0}, {"whiten": 8, "pair_head": "l1"}])
def test_impossible_whitening_settings_are_refused(settings):
    with pytest.raises(LookalikeError):
        EncoderConfig(image_size=32, head=(32, 16), **settings)
