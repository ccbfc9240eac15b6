"""The map of a collection as a PNG: every laid-out image a dot coloured by its group, and thumbnails of images
spread over the map so a reader sees what each region holds.

Groups are clusters (named identities by their name), or folder labels when the gallery was never clustered. The
largest groups get their own colour and a legend entry; the rest, and images in no group, are grey. Thumbnails are
chosen one per cell of a coarse grid over the map, so they cover it rather than pile up where images are dense, and
they are read through `read_stored_file`: a file changed since indexing is left out rather than shown wrongly.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from lookalike.collection.layout import Layout
from lookalike.data import decode_rgb
from lookalike.errors import LookalikeError
from lookalike.gallery.stored_file import read_stored_file
from lookalike.report.figure import pyplot, save_png

COLOURED = 10
"""Groups drawn in a colour of their own; matplotlib's tab10 holds ten that stay apart."""

_CELLS = 9
"""The thumbnail grid is _CELLS × _CELLS over the map: at most 81 thumbnails."""

_THUMB = 40


def draw_map(layout: Layout, groups: Sequence[str | None], out: str | Path, *, title: str = "") -> Path:
    """Draw `layout` with each image's group (None: in none) to a PNG at `out` and return its path."""
    plt = pyplot()
    from matplotlib.offsetbox import AnnotationBbox, OffsetImage

    points = layout.points
    figure, axis = plt.subplots(figsize=(10, 8), dpi=110)
    counts = Counter(group for group in groups if group is not None)
    coloured = [group for group, _ in counts.most_common(COLOURED)]
    palette = plt.get_cmap("tab10")
    others = np.array([group not in coloured for group in groups])
    axis.scatter(points[others, 0], points[others, 1], s=6, color="0.75", label="other" if coloured else None)
    for number, group in enumerate(coloured):
        mine = np.array([g == group for g in groups])
        axis.scatter(points[mine, 0], points[mine, 1], s=9, color=palette(number),
                     label=f"{group} ({counts[group]})")
    for index in _spread_out(points):
        thumbnail = _thumbnail(layout, index)
        if thumbnail is not None:
            axis.add_artist(AnnotationBbox(OffsetImage(thumbnail, zoom=1.0), tuple(points[index]), frameon=True,
                                           pad=0.1, bboxprops={"edgecolor": "0.6", "linewidth": 0.5}))
    if coloured:
        axis.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize="small", markerscale=2, frameon=False)
    sampled = (f", a random {len(layout.images):,} of {layout.gallery_images:,}"
               if layout.gallery_images > len(layout.images) else "")
    axis.set_title(title or f"{len(layout.images):,} images laid out by {_METHOD_NAMES[layout.method]}{sampled}")
    axis.set_xticks([])
    axis.set_yticks([])
    return save_png(figure, out)


_METHOD_NAMES = {"umap": "UMAP", "tsne": "t-SNE", "pca": "PCA"}


def _spread_out(points: np.ndarray) -> list[int]:
    """One image per occupied cell of a grid over the points: the one nearest the cell's centre."""
    low, high = points.min(axis=0), points.max(axis=0)
    span = np.where(high > low, high - low, 1.0)
    scaled = (points - low) / span * _CELLS
    cells = np.minimum(scaled.astype(int), _CELLS - 1)
    off_centre = np.linalg.norm(scaled - (cells + 0.5), axis=1)
    chosen: dict[tuple[int, int], int] = {}
    for index in np.argsort(off_centre, kind="stable"):
        chosen.setdefault((int(cells[index, 0]), int(cells[index, 1])), int(index))
    return sorted(chosen.values())


def _thumbnail(layout: Layout, index: int) -> np.ndarray | None:
    image = layout.images[index]
    try:
        return decode_rgb(read_stored_file(image), _THUMB, name=image.path)
    except LookalikeError:
        return None  # moved, changed or unreadable since indexing: the dot stays, without a picture
