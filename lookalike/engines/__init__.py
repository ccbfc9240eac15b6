"""Engines that embed a list of files for `index`: in this process (the default), or on a Ray cluster.

An engine is a function ``(model, paths) -> Iterator[Embeddings]``: each item is a batch of whole files, every
region of a file in the same batch, with ``indices`` pointing into ``paths`` and unreadable files in ``skipped``.
A new engine is one module that calls `register_engine` with a factory taking the engine's options (``address``
for Ray), and asks for a package it needs only when it is used.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeAlias

from lookalike.embed import Embeddings
from lookalike.model import Model
from lookalike.registry import Registry

Engine: TypeAlias = Callable[[Model, Sequence[Path]], Iterator[Embeddings]]

_ENGINES: Registry[Callable[..., Engine]] = Registry("indexing engine")
DEFAULT_ENGINE = "local"


def register_engine(name: str, factory: Callable[..., Engine]) -> None:
    _ENGINES.register(name, factory)


def engine_named(name: str, **options: Any) -> Engine:
    """The engine ``name`` set up with ``options``; options it does not take are the user's error."""
    return _ENGINES[name](**options)


def engine_names() -> list[str]:
    return list(_ENGINES)


from lookalike.engines import local, ray_data  # noqa: E402,F401  # each registers itself
