"""Kinds of gallery store by name, and which kind a location belongs to.

The folder store (FAISS + SQLite, `Gallery`) is the default and takes every location no other kind claims. A new
backend is one module that implements `GalleryStore` and calls `register_store` with a `StoreKind` saying which
locations are its own (a URL scheme, say), how to tell that one holds a gallery, and how to open and create one.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lookalike.gallery.embedded import Gallery
from lookalike.gallery.protocol import GalleryStore
from lookalike.registry import Registry

Location = str | Path


@dataclass(frozen=True)
class StoreKind:
    name: str
    claims: Callable[[str], bool]
    """Whether a location (as the user spelled it) is one of this kind's."""
    exists: Callable[[Location], bool]
    """Whether a gallery is stored there already."""
    open: Callable[[Location, bool], GalleryStore]
    """Open an existing gallery: (location, read_only)."""
    create: Callable[..., GalleryStore]
    """Create an empty gallery and open it for writing: (location, *, model_id, dim, index, fill), where
    ``fill(folder)`` writes the copy of the model the gallery keeps (see `GalleryStore.model_dir`)."""
    delete: Callable[[Location], None]
    """Remove a gallery entirely: only ever one that the caller has just created and that holds nothing."""


_KINDS: Registry[StoreKind] = Registry("store kind")
DEFAULT_STORE = "folder"


def register_store(kind: StoreKind) -> StoreKind:
    """Make a kind of store available; kinds registered later are asked first, so they may claim locations that
    would otherwise be folders."""
    return _KINDS.register(kind.name, kind)


def store_kind_for(location: Location) -> StoreKind:
    """The kind of store `location` belongs to: the latest registered kind that claims it, else the folder store."""
    for kind in reversed(_KINDS.values()):
        if kind.name != DEFAULT_STORE and kind.claims(str(location)):
            return kind
    return _KINDS[DEFAULT_STORE]


def store_names() -> list[str]:
    return list(_KINDS)


register_store(StoreKind(
    name=DEFAULT_STORE,
    claims=lambda location: True,
    exists=Gallery.exists,
    open=lambda location, read_only: Gallery.open(location, read_only=read_only),
    create=lambda location, **settings: Gallery.create(location, **settings),
    delete=lambda location: shutil.rmtree(location, ignore_errors=True),
))
