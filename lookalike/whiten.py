"""Whitening a model's embedding on a folder of unlabeled images, written out as a new model (see
models/whitening.py for why it helps). The input model is never changed, and a gallery built with it stays valid
for it; the whitened model has its own id, so its vectors are never mixed with the old ones.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch

from lookalike.data import BadImage, find_images
from lookalike.embed import EmbedSettings, Embedder
from lookalike.errors import LookalikeError, NothingReadable
from lookalike.model import Model, encoder_of
from lookalike.models import Encoder, refuse_existing_model, save_model
from lookalike.models.whitening import DEFAULT_SHRINKAGE, fit_whitening


@dataclass
class WhitenReport:
    model_id: str
    images: int
    dims: int
    skipped: list[BadImage] = field(default_factory=list)


def whiten_model(
    model: str | Path | Encoder | Model,
    folder: str | Path,
    out: str | Path,
    *,
    shrinkage: float = DEFAULT_SHRINKAGE,
    dims: int | None = None,
    settings: EmbedSettings = EmbedSettings(),
    on_plan: Callable[[int], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> WhitenReport:
    """Fit a whitening of `model`'s embedding on every image under `folder` (labels, if any, are not read) and save
    the model with it to `out`. A model that is already whitened is refitted from its unwhitened embedding."""
    out = Path(out)
    refuse_existing_model(out)
    source = encoder_of(model)
    unwhitened = _without_whitening(source)
    paths = find_images(folder)
    if on_plan:
        on_plan(len(paths))
    embedded = Embedder(unwhitened, settings).embed_paths(paths, on_progress=on_progress)
    if not embedded.indices:
        raise NothingReadable(embedded.skipped)
    if len(embedded.indices) < 2:
        raise LookalikeError(f"{folder}: whitening needs at least 2 readable images, found {len(embedded.indices)}")
    mean, projection = fit_whitening(torch.from_numpy(embedded.vectors), shrinkage=shrinkage, dims=dims)
    whitened = Encoder(replace(unwhitened.config, whiten=projection.shape[1]))
    whitened.load_state_dict({**unwhitened.state_dict(), "whitening.mean": mean, "whitening.projection": projection})
    whitened.origin = {**unwhitened.origin, "whitening": {
        "folder": str(Path(folder).resolve()), "images": len(embedded.indices), "shrinkage": shrinkage,
        "dims": projection.shape[1],
    }}
    return WhitenReport(save_model(whitened.eval(), out), len(embedded.indices), projection.shape[1],
                        embedded.skipped)


def _without_whitening(encoder: Encoder) -> Encoder:
    """The same weights as a model whose embedding is not whitened (a copy; `encoder` is left as it is)."""
    plain = Encoder(replace(encoder.config, whiten=None))
    state = {key: value for key, value in encoder.state_dict().items() if not key.startswith("whitening.")}
    plain.load_state_dict(state)
    plain.origin = {key: value for key, value in encoder.origin.items() if key != "whitening"}
    return plain.eval()
