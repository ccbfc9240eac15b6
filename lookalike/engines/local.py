"""The default engine: decode in worker processes of this machine, embed in this process (see lookalike.embed)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

from lookalike.embed import Embeddings
from lookalike.engines import Engine, register_engine
from lookalike.model import Model


def local_engine() -> Engine:
    def embed(model: Model, paths: Sequence[Path]) -> Iterator[Embeddings]:
        for batch, vectors in model.embedder.iter_paths(paths):
            yield Embeddings(batch.indices, vectors, batch.sha256, batch.skipped, batch.regions)

    return embed


register_engine("local", local_engine)
