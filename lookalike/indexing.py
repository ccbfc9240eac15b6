"""Adding a folder of images to a gallery, embedding only what is new or changed since the last time.

A file is unchanged when its size and modification time match what the gallery recorded; when only the time
differs, its content hash decides. Progress is committed every few seconds, so an interrupted run keeps what it
finished and the next run picks up from there.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from lookalike.data import BadImage, as_found, file_sha256, find_images, label_for
from lookalike.data.decode import unreadable
from lookalike.engines import Engine, engine_named
from lookalike.errors import NothingReadable
from lookalike.gallery import GalleryStore, ImageRecord
from lookalike.model import Model

COMMIT_EVERY_SECONDS = 30.0


@dataclass
class IndexReport:
    """What one indexing run did."""

    gallery: str
    model_id: str
    found: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    missing: int = 0  # recorded under the folder but gone from disk
    removed: int = 0  # of those, removed because prune was asked for
    skipped: list[BadImage] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def embedded(self) -> int:
        return self.added + self.updated


@dataclass(frozen=True)
class _Pending:
    path: Path
    size: int
    mtime_ns: int
    is_update: bool


def _is_under(path: str, folder: Path) -> bool:
    return path.startswith(str(folder) + os.sep)


def index_folder(
    store: GalleryStore,
    model: Model,
    folder: str | Path,
    *,
    index: str | None = None,
    prune: bool = False,
    on_plan: Callable[[int], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
    engine: Engine | None = None,
) -> IndexReport:
    """Bring the gallery open for writing in `store` up to date with the images under `folder`, and commit.

    Naming an `index` kind other than the gallery's rebuilds its index. Files that fail to decode are skipped and
    listed in the report; the rest are indexed. `on_plan(n)` is told how many files need embedding,
    `on_progress(n)` how many each batch settled. `engine` embeds the files (default: in this process; see
    lookalike.engines). When not one file could be read, `NothingReadable` is raised and nothing is pruned.
    """
    started = time.perf_counter()
    folder = Path(folder).resolve()
    images = find_images(folder)
    report = IndexReport(gallery=store.location, model_id=store.info.model_id, found=len(images))
    if index and index != store.info.index:
        store.rebuild(index)
    pending = _plan(images, store, report)
    if on_plan:
        on_plan(len(pending))
    _embed_into(store, model, engine or engine_named("local"), pending, folder, report, on_progress)
    if len(report.skipped) == len(images):
        raise NothingReadable(report.skipped)
    found = {str(path) for path in images}
    gone = [image.path for image in store.images() if _is_under(image.path, folder) and image.path not in found]
    report.missing = len(gone)
    if prune and gone:
        report.removed = store.remove(gone)
    store.commit()
    report.seconds = time.perf_counter() - started
    return report


def _plan(images: list[Path], store: GalleryStore, report: IndexReport) -> list[_Pending]:
    """Sort the folder's files into unchanged ones and ones to embed; record touched-but-identical files."""
    stored: dict[str, ImageRecord] = {}
    for image in store.images():  # one read of the gallery, not one query per file: a server gallery is remote
        stored.setdefault(image.path, image)  # a file's first region, as find() gives
    pending = []
    for path in images:
        try:
            stat = path.stat()
            known = stored.get(str(path))
            if known is not None and known.size == stat.st_size and known.mtime_ns == stat.st_mtime_ns:
                report.unchanged += 1
            elif known is not None and known.size == stat.st_size and file_sha256(path) == known.sha256:
                store.update_mtime(str(path), stat.st_mtime_ns)
                report.unchanged += 1
            else:
                pending.append(_Pending(path, stat.st_size, stat.st_mtime_ns, is_update=known is not None))
        except OSError as error:
            report.skipped.append(unreadable(path, error))
    return pending


def _embed_into(store: GalleryStore, model: Model, engine: Engine, pending: list[_Pending], folder: Path,
                report: IndexReport, on_progress: Callable[[int], None] | None) -> None:
    last_commit = time.monotonic()
    paths = [item.path for item in pending]
    for batch in engine(model, paths):
        records = []
        for position, sha256, region in zip(batch.indices, batch.sha256, batch.regions):
            item = pending[position]
            records.append(ImageRecord(path=str(item.path), size=item.size, mtime_ns=item.mtime_ns, sha256=sha256,
                                       label=label_for(item.path, folder), region=region))
        for position in dict.fromkeys(batch.indices):  # files, whatever number of regions each gave
            if pending[position].is_update:
                report.updated += 1
            else:
                report.added += 1
        if records:
            store.add(records, batch.vectors, model_id=report.model_id)
        report.skipped += batch.skipped
        if time.monotonic() - last_commit > COMMIT_EVERY_SECONDS:
            store.commit()
            last_commit = time.monotonic()
        if on_progress:
            on_progress(batch.settled)


def remove_paths(store: GalleryStore, paths: Sequence[str | Path]) -> int:
    """Remove the given images, and every image under the given folders, from a gallery open for writing, and
    commit. Returns the count."""
    targets = [as_found(path) for path in paths]
    doomed = [
        image.path
        for image in store.images()
        if any(image.path == str(target) or _is_under(image.path, target) for target in targets)
    ]
    removed = store.remove(doomed)
    store.commit()
    return removed
