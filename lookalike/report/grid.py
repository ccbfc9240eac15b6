"""The result figure: one row per query, the query on the left and its top-k look-alikes with their scores.

When labels are known (evaluation data), a hit's frame is green if it shares the query's label and red if not,
so a reader sees at a glance how often the nearest images are of the same kind.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from lookalike.atomic import write_atomic
from lookalike.collection import Cluster, DuplicateGroup
from lookalike.data import BadImage, decode_rgb
from lookalike.gallery import Hit
from lookalike.search import QueryResult

_PAD = 6
_CAPTION = 34
_BACKGROUND = (255, 255, 255)
_TEXT = (20, 20, 20)
_NEUTRAL = (200, 200, 200)
_SAME = (34, 160, 60)
_OTHER = (210, 40, 40)
_QUERY = (40, 90, 200)


def _thumbnail(path: Path | str, size: int) -> Image.Image:
    """The file's centre square, or grey for a file that cannot be read or a query that was never a file."""
    try:
        if not isinstance(path, Path):
            raise BadImage(path, "held in memory")
        return Image.fromarray(decode_rgb(path, size))
    except BadImage:
        return Image.fromarray(np.full((size, size, 3), 128, np.uint8))


def _frame_colour(query_label: str | None, hit_label: str | None) -> tuple[int, int, int]:
    if query_label is None or hit_label is None:
        return _NEUTRAL
    return _SAME if query_label == hit_label else _OTHER


def _fit(text: str, font: ImageFont.ImageFont | ImageFont.FreeTypeFont, width: int) -> str:
    """Shorten `text` from the left until it fits `width` pixels: a path's end says the most."""
    if font.getlength(text) <= width:
        return text
    while text and font.getlength("…" + text) > width:
        text = text[1:]
    return "…" + text


def render_grid(
    results: Sequence[QueryResult],
    out: str | Path,
    *,
    thumb: int = 128,
    query_labels: Sequence[str | None] | None = None,
    leads: Sequence[str] | None = None,
) -> Path:
    """Draw `results` as a PNG at `out` (written atomically) and return its path; `leads` titles each row's first
    image (default "query")."""
    if not results:
        raise ValueError("nothing to draw: no query results")
    labels = list(query_labels) if query_labels is not None else [None] * len(results)
    titles = list(leads) if leads is not None else ["query"] * len(results)
    columns = 1 + max(len(result.hits) for result in results)
    cell_w, cell_h = thumb + 2 * _PAD, thumb + 2 * _PAD + _CAPTION
    canvas = Image.new("RGB", (columns * cell_w + _PAD, len(results) * cell_h), _BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default(size=max(10, thumb // 10))
    for row, (result, query_label, lead) in enumerate(zip(results, labels, titles)):
        y = row * cell_h
        name = result.query.name if isinstance(result.query, Path) else result.query
        cells: list[tuple[Path | str, str, str, tuple[int, int, int]]] = [
            (result.query, lead, query_label or name, _QUERY)]
        cells += [
            (Path(hit.image.path), f"#{rank} {hit.score:.4f}", hit.image.label or Path(hit.image.path).name,
             _frame_colour(query_label, hit.image.label))
            for rank, hit in enumerate(result.hits, start=1)
        ]
        for column, (path, title, subtitle, colour) in enumerate(cells):
            x = column * cell_w + _PAD
            draw.rectangle((x - 3, y + _PAD - 3, x + thumb + 2, y + _PAD + thumb + 2), outline=colour, width=3)
            canvas.paste(_thumbnail(path, thumb), (x, y + _PAD))
            draw.text((x, y + _PAD + thumb + 4), _fit(title, font, thumb), fill=_TEXT, font=font)
            draw.text((x, y + _PAD + thumb + 4 + _CAPTION // 2), _fit(subtitle, font, thumb), fill=_TEXT, font=font)
    out = Path(out)
    write_atomic(out, lambda tmp: canvas.save(tmp, format="PNG"))
    return out


def render_groups(groups: Sequence[DuplicateGroup], out: str | Path, *, thumb: int = 128) -> Path:
    """A contact sheet of groups: one row each, its first image, then the others with their similarity to it."""
    results = [QueryResult(Path(group.images[0].path),
                           [Hit(image, score) for image, score in zip(group.images[1:], group.scores[1:])])
               for group in groups]
    return render_grid(results, out, thumb=thumb, leads=[f"group {n}" for n in range(1, len(groups) + 1)])


def render_clusters(clusters: Sequence[Cluster], out: str | Path, *, thumb: int = 128, per_row: int = 8) -> Path:
    """A contact sheet of clusters: one row each, its first `per_row` images."""
    results = [QueryResult(Path(cluster.images[0].path), [Hit(image, 1.0) for image in cluster.images[1:per_row]])
               for cluster in clusters]
    return render_grid(results, out, thumb=thumb, leads=[f"cluster {cluster.key}" for cluster in clusters])
