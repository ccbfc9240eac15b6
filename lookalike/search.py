"""Finding the look-alikes of query images in a gallery, by cosine similarity."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from lookalike.data import BadImage
from lookalike.errors import NothingReadable
from lookalike.gallery import GalleryStore, Hit
from lookalike.images import ImageInput, Item
from lookalike.model import Model
from lookalike.preprocess import WHOLE_IMAGE


@dataclass(frozen=True)
class QueryResult:
    query: Path | str  # the query file, or the name of an image held in memory, with "#region" for a region
    hits: list[Hit]


def query_name(item: Item, region: str) -> Path | str:
    """How a result names its query: the file (or the name of an image held in memory), and the region when the
    preprocessing stage found one that is not the whole image."""
    name = item if isinstance(item, Path) else item.name
    return name if region == WHOLE_IMAGE else f"{name}#{region}"


@dataclass
class SearchReport:
    results: list[QueryResult] = field(default_factory=list)
    skipped: list[BadImage] = field(default_factory=list)


def search_gallery(
    store: GalleryStore,
    model: Model,
    queries: ImageInput | Sequence[ImageInput],
    *,
    k: int = 10,
    exclude_self: bool = False,
    main_region_only: bool = False,
    on_plan: Callable[[int], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> SearchReport:
    """The top-`k` gallery images for each query image (any kind `Model.embed_each` takes; folders are searched
    recursively).

    With `exclude_self`, a query file that is itself in the gallery (same path and region) does not appear among its
    own hits. A preprocessing stage that finds several regions in a query gives a result for each, or with
    `main_region_only` for the first it lists (the faces stage: the largest face).
    Queries that fail to decode are skipped and listed in the report; when none decodes, `NothingReadable` says why
    for each.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    items, embedded = model.embed_each(queries, on_plan=on_plan, on_progress=on_progress)
    if not embedded.indices:
        raise NothingReadable(embedded.skipped)
    if main_region_only:
        embedded = embedded.main_regions()
    found = [(items[i], region) for i, region in zip(embedded.indices, embedded.regions)]
    exclude = None
    if exclude_self:
        exclude = [{stored.id} if isinstance(item, Path) and (stored := store.find(str(item), region)) else set()
                   for item, region in found]
    hits = store.search(embedded.vectors, k, exclude=exclude)
    return SearchReport(
        results=[QueryResult(query_name(item, region), query_hits) for (item, region), query_hits in zip(found, hits)],
        skipped=embedded.skipped,
    )
