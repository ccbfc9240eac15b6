"""A model ready to use: an encoder with its inference copy made, its id hashed and its distance chosen, once.

This is what the Python API hands out (`lookalike.load_model`, `lookalike.create_model`, `Session.model`) and what
every operation embeds with. Building the inference copy (batch norms folded) and hashing the weights cost a
noticeable fraction of a second each, so a Model does both once, not once per call. The encoder must not change
while a Model holds it: a trained or whitened model is a new Model.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from lookalike.data import BadImage
from lookalike.embed import EmbedSettings, Embedder, Embeddings
from lookalike.images import Decode, ImageInput, InMemory, Item, gather
from lookalike.match import Distance, distance_for
from lookalike.models import Encoder, EncoderConfig, create_encoder, model_id, save_model
from lookalike.models import load_model as load_encoder


class Model:
    """An encoder for inference: `embed` any images; `id` names the model in galleries; `distance` is what
    verification and recognition measure with (cosine, or the pair head's)."""

    def __init__(self, encoder: Encoder, settings: EmbedSettings = EmbedSettings()) -> None:
        self.encoder = encoder
        self.settings = settings
        self.decode: Decode | None = None  # how encoded bytes are decoded; None: decode_regions without more bounds
        self.id = model_id(encoder)
        self.distance: Distance = distance_for(encoder)
        self._embedder: Embedder | None = None
        self._building = threading.Lock()

    def __repr__(self) -> str:
        config = self.config
        return f"Model({self.id}, {config.backbone} at {config.image_size} px, {self.dim}-d)"

    @property
    def config(self) -> EncoderConfig:
        return self.encoder.config

    @property
    def image_size(self) -> int:
        return self.config.image_size

    @property
    def dim(self) -> int:
        return self.config.embedding_dim

    @property
    def embedder(self) -> Embedder:
        """The inference copy on its device, made on first use."""
        with self._building:
            if self._embedder is None:
                self._embedder = Embedder(self.encoder, self.settings)
            return self._embedder

    def embed(self, images: ImageInput | Sequence[ImageInput]) -> np.ndarray:
        """The embeddings of `images` (any mix of paths, folders, arrays, PIL images and encoded bytes; see
        lookalike.images) as an (N, D) float32 array of unit rows, in the order given: one per image with the
        default preprocessing, one per region with a stage that finds several. Raises `BadImage` naming the first
        image that could not be read."""
        _, embedded = self.embed_each(images)
        if embedded.skipped:
            raise embedded.skipped[0]
        return embedded.vectors

    def embed_each(self, images: ImageInput | Sequence[ImageInput], *,
                   on_plan: Callable[[int], None] | None = None,
                   on_progress: Callable[[int], None] | None = None) -> tuple[list[Item], Embeddings]:
        """Every image found in `images`, and the embeddings of those that could be read (`indices` point into
        the list, one row per region); the rest are in `skipped` with their reasons. `on_plan(n)` is told how many
        images were found, `on_progress(n)` how many more are settled as work goes on."""
        items = gather(images)
        if on_plan:
            on_plan(len(items))
        return items, self.embed_items(items, on_progress=on_progress)

    def embed_items(self, items: list[Item], *, on_progress: Callable[[int], None] | None = None) -> Embeddings:
        """`embed_each` for items already gathered: files in batches from worker processes, images held in memory
        in this process, the result in input order."""
        embedder = self.embedder
        files = [position for position, item in enumerate(items) if isinstance(item, Path)]
        from_files = embedder.embed_paths([items[i] for i in files], on_progress=on_progress)  # type: ignore[misc]
        rows = {(files[j], row): (vector, digest, region) for row, (j, vector, digest, region) in
                enumerate(zip(from_files.indices, from_files.vectors, from_files.sha256, from_files.regions))}
        skipped = list(from_files.skipped)
        in_memory = [position for position, item in enumerate(items) if isinstance(item, InMemory)]
        for start in range(0, len(in_memory), self.settings.batch_size):
            chunk = in_memory[start:start + self.settings.batch_size]
            read, pixels = [], []
            for position in chunk:
                item = items[position]
                assert isinstance(item, InMemory)
                try:
                    regions = item.prepare(self.image_size, embedder.stage, self.decode)
                except BadImage as error:
                    skipped.append(error)
                    continue
                digest = item.sha256()
                read += [(position, row, key, digest) for row, (key, _) in enumerate(regions)]
                pixels += [region for _, region in regions]
            for (position, row, key, digest), vector in zip(read, embedder.embed_images(pixels)):
                rows[(position, row)] = (vector, digest, key)
            if on_progress:
                on_progress(len(chunk))
        order = sorted(rows)
        vectors = np.stack([rows[key][0] for key in order]) if order else np.zeros((0, self.dim), np.float32)
        return Embeddings([position for position, _ in order], vectors, [rows[key][1] for key in order], skipped,
                          [rows[key][2] for key in order])

    def save(self, folder: str | Path) -> str:
        """Write the model to `folder` (safetensors + JSON); returns its id."""
        return save_model(self.encoder, folder)


def load_model(folder: str | Path, settings: EmbedSettings = EmbedSettings()) -> Model:
    """The model saved in `folder`, verified against its config (see lookalike.models.storage)."""
    return Model(load_encoder(folder), settings)


def create_model(config: EncoderConfig = EncoderConfig(), *, weights: str | Path | None = None, seed: int = 0,
                 settings: EmbedSettings = EmbedSettings()) -> Model:
    """A new model: random weights from `seed`, "imagenet" (torchvision's), or a safetensors file of backbone
    weights."""
    return Model(create_encoder(config, weights=weights, seed=seed), settings)


def encoder_of(model: Model | Encoder | str | Path) -> Encoder:
    """The encoder of a Model, an Encoder as it is, or the one saved in a model folder."""
    if isinstance(model, Model):
        return model.encoder
    return model if isinstance(model, Encoder) else load_encoder(model)
