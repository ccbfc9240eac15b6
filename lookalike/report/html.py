"""A one-page HTML report: titled sections of facts, notes and figures, readable offline with no assets.

Figures are linked by paths relative to the page, so the report folder can be moved or zipped as a whole.
"""

from __future__ import annotations

import html
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from lookalike.atomic import write_bytes_atomic

_STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #222; }
h1 { font-size: 1.6em; } h2 { font-size: 1.2em; margin-top: 1.8em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; } td, th { padding: .25em .9em .25em 0; text-align: left; vertical-align: top; }
th { font-weight: 600; color: #555; } img { max-width: 100%; border: 1px solid #eee; margin: .5em 0; }
code { background: #f4f4f4; padding: 0 .2em; }
pre { background: #f4f4f4; padding: .6em .8em; overflow-x: auto; } pre code { padding: 0; } .note { color: #555; }
"""


@dataclass
class Section:
    title: str
    facts: Sequence[tuple[str, str]] = ()
    notes: Sequence[str] = ()
    figures: Sequence[Path] = ()
    items: Sequence[str] = ()  # a bulleted list, e.g. skipped files
    code: Sequence[str] = ()  # lines to copy, e.g. commands
    table: tuple[Sequence[str], Sequence[Sequence[str]]] | None = None  # (header, rows)


def _section_html(section: Section, page_dir: Path) -> str:
    parts = [f"<h2>{html.escape(section.title)}</h2>"]
    if section.facts:
        facts = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in section.facts)
        parts.append(f"<table>{facts}</table>")
    if section.table:
        header, rows = section.table
        head = "".join(f"<th>{html.escape(cell)}</th>" for cell in header)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>" for row in rows)
        parts.append(f"<table><tr>{head}</tr>{body}</table>")
    parts += [f'<p class="note">{html.escape(note)}</p>' for note in section.notes]
    if section.code:
        parts.append("<pre><code>" + "\n".join(html.escape(line) for line in section.code) + "</code></pre>")
    if section.items:
        parts.append("<ul>" + "".join(f"<li>{html.escape(item)}</li>" for item in section.items) + "</ul>")
    for figure in section.figures:
        src = html.escape(Path(os.path.relpath(figure, page_dir)).as_posix())
        parts.append(f'<a href="{src}"><img src="{src}" alt="{html.escape(figure.name)}"></a>')
    return "\n".join(parts)


def write_report(out: str | Path, title: str, sections: Sequence[Section]) -> Path:
    """Write the page to `out` atomically and return its path."""
    out = Path(out)
    body = "\n".join(_section_html(section, out.parent.resolve()) for section in sections)
    page = (
        f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{_STYLE}</style></head>\n<body><h1>{html.escape(title)}</h1>\n{body}\n</body></html>\n"
    )
    write_bytes_atomic(out, page.encode("utf-8"))
    return out
