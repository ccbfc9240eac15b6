"""A gallery's embedding laid out in two dimensions, for its map: look-alikes land near each other.

UMAP where `umap-learn` is installed (fast, and it keeps more of the large-scale structure), t-SNE (scikit-learn)
otherwise, PCA for a handful of images or when asked. Both neighbour methods read cosine distance, as search does.
A gallery larger than `sample` is laid out from a random sample of that size: a map of a million dots shows no more
than one of five thousand, and t-SNE's time grows with N log N.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from lookalike.errors import LookalikeError
from lookalike.gallery import GalleryStore, StoredImage

SAMPLE = 5000
"""Images laid out at most: t-SNE lays out 5,000 in about a minute on two cores."""


def _umap(vectors: np.ndarray, seed: int) -> np.ndarray:
    import umap

    return umap.UMAP(n_neighbors=min(15, len(vectors) - 1), metric="cosine", random_state=seed).fit_transform(vectors)


def _tsne(vectors: np.ndarray, seed: int) -> np.ndarray:
    from sklearn.manifold import TSNE

    perplexity = min(30.0, (len(vectors) - 1) / 3)
    return TSNE(n_components=2, metric="cosine", init="pca", perplexity=perplexity,
                random_state=seed).fit_transform(vectors)


def _pca(vectors: np.ndarray, seed: int) -> np.ndarray:
    centred = vectors - vectors.mean(axis=0)
    _, _, directions = np.linalg.svd(centred, full_matrices=False)
    points = centred @ directions[:2].T
    return np.pad(points, ((0, 0), (0, 2 - points.shape[1])))  # a single image, or one direction: pad to 2-D


METHODS: dict[str, Callable[[np.ndarray, int], np.ndarray]] = {"umap": _umap, "tsne": _tsne, "pca": _pca}

_FEWEST_FOR_NEIGHBOURS = 10
"""Below this many images, UMAP and t-SNE have too few neighbours to weigh: PCA draws them."""


@dataclass(frozen=True)
class Layout:
    images: list[StoredImage]
    points: np.ndarray  # (len(images), 2)
    method: str
    gallery_images: int  # the gallery's size, which `images` may be a sample of


def default_method() -> str:
    return "umap" if importlib.util.find_spec("umap") is not None else "tsne"


def lay_out(store: GalleryStore, *, method: str | None = None, sample: int = SAMPLE, seed: int = 0) -> Layout:
    """Two coordinates for each of the gallery's images, or of `sample` of them drawn at random."""
    method = method or default_method()
    if method not in METHODS:
        raise LookalikeError(f"unknown layout {method!r}; choose one of {', '.join(METHODS)}")
    if method == "umap" and importlib.util.find_spec("umap") is None:
        raise LookalikeError("the umap layout needs umap-learn (pip install umap-learn); tsne and pca need nothing")
    if sample < 1:
        raise LookalikeError(f"the sample must hold at least one image, got {sample}")
    images = store.images()
    if not images:
        raise LookalikeError(f"{store.location} holds no images to draw")
    total = len(images)
    if total > sample:
        chosen = np.sort(np.random.default_rng(seed).choice(total, size=sample, replace=False))
        images = [images[i] for i in chosen]
    vectors = store.vectors([image.id for image in images]).astype(np.float64)
    if len(images) < _FEWEST_FOR_NEIGHBOURS:
        method = "pca"
    return Layout(images, np.asarray(METHODS[method](vectors, seed), dtype=np.float64), method, total)
