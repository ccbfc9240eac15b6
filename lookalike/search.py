"""Finding the look-alikes of query images in a gallery, by cosine similarity."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from lookalike.data import BadImage, collect_images
from lookalike.embed import EmbedSettings, Embedder
from lookalike.errors import NothingReadable
from lookalike.gallery import Hit
from lookalike.workspace import ModelLike, open_gallery


@dataclass(frozen=True)
class QueryResult:
    query: Path
    hits: list[Hit]


@dataclass
class SearchReport:
    results: list[QueryResult] = field(default_factory=list)
    skipped: list[BadImage] = field(default_factory=list)


def search_images(
    queries: Sequence[str | Path],
    gallery: str | Path,
    *,
    k: int = 10,
    model: ModelLike = None,
    exclude_self: bool = False,
    settings: EmbedSettings = EmbedSettings(),
    on_plan: Callable[[int], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> SearchReport:
    """The top-`k` gallery images for each query image (files, or folders searched recursively).

    With `exclude_self`, a query that is itself in the gallery (same path) does not appear among its own hits.
    Queries that fail to decode are skipped and listed in the report; when none decodes, `NothingReadable` says
    why for each.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    paths = collect_images(queries)
    store, encoder = open_gallery(gallery, model, read_only=True)
    with store:
        if on_plan:
            on_plan(len(paths))
        embedded = Embedder(encoder, settings).embed_paths(paths, on_progress=on_progress)
        if not embedded.indices:
            raise NothingReadable(embedded.skipped)
        found = [paths[i] for i in embedded.indices]
        exclude = None
        if exclude_self:
            exclude = [{stored.id} if (stored := store.find(str(path))) else set() for path in found]
        hits = store.search(embedded.vectors, k, exclude=exclude)
    return SearchReport(
        results=[QueryResult(query, query_hits) for query, query_hits in zip(found, hits)],
        skipped=embedded.skipped,
    )
