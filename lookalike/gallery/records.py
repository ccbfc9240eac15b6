"""The values that cross a gallery's boundary: what callers hand in, and what comes back.

Plain frozen dataclasses, so that every backend (the embedded FAISS + SQLite store now, Milvus later) produces the
same things and callers can compare, hash and log them.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ImageRecord:
    """One region of an image file as indexed: enough to notice later that the file changed, and to say whose image
    it is.

    ``path`` (absolute) and ``region`` together are the gallery's key: the preprocessing stage may find several
    regions in one file (faces, say), and ``region`` names which; it is "" for the whole image, as the default stage
    gives. ``label`` is the folder-name label that only evaluation reads; ``identity`` is whom the region shows once
    enrolled.
    """

    path: str
    size: int
    mtime_ns: int
    sha256: str
    label: str | None = None
    identity: str | None = None
    region: str = ""


@dataclass(frozen=True)
class StoredImage(ImageRecord):
    """An image as stored: the record plus the id its vector is filed under (keyword-only, always given)."""

    id: int = field(kw_only=True)


@dataclass(frozen=True)
class Hit:
    """One search result; ``score`` is the cosine similarity to the query, higher is more alike."""

    image: StoredImage
    score: float

    @property
    def path(self) -> str:
        """The file the hit is (``image.path``)."""
        return self.image.path


def best_first(hit: Hit) -> tuple[float, int]:
    """The order every store gives hits in: most alike first, and among equal scores (copies of one photo) the
    lower id, so that two stores built alike answer alike."""
    return -hit.score, hit.image.id


@dataclass(frozen=True)
class GalleryInfo:
    """What a caller needs to know about a gallery before using it; ``count`` includes uncommitted changes."""

    model_id: str
    dim: int
    metric: str
    index: str
    threshold: float | None
    count: int
