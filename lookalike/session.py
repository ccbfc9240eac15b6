"""One gallery and the model that made it, open for everything a user does with them: the one object behind the
Python API, every CLI command about a gallery and every web endpoint.

`lookalike.open(G)` gives a Session. The model is loaded, checked against the gallery, folded for inference and
hashed once, not once per call. Every image argument may be a path, a folder, a numpy array, a PIL image or encoded
bytes (see lookalike.images).

Threads may share one session (a web server does). Queries go through one read-only handle, which catches up with
the latest commit before each query, so images that another process indexed or enrolled meanwhile are found.
Changes go through a writable handle of their own, one change at a time, so readers wait at most for a commit and
two writers never race. A gallery that does not exist yet is created by the first change (index or enrol), with the
session's model, or the default start (lookalike.models.starts) when none was given.
"""

from __future__ import annotations

import hashlib
import io
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import numpy as np
from PIL import Image, ImageOps

from lookalike.atomic import write_bytes_atomic
from lookalike.collection import (
    MAP_SAMPLE,
    MIN_CLUSTER,
    ClusterReport,
    DuplicateReport,
    Layout,
    Naming,
    Progress,
    find_clusters,
    find_duplicates,
    groups_of,
    lay_out,
    name_cluster,
)
from lookalike.data import decode_rgb
from lookalike.embed import EmbedSettings
from lookalike.engines import DEFAULT_ENGINE, engine_named
from lookalike.enrolment import (
    EnrolReport,
    enrol_found,
    enrolment_images,
    identity_name,
    remove_identity,
    rename_identity,
    store_enrolled,
)
from lookalike.errors import LookalikeError, NothingReadable
from lookalike.faces.stage import face_box
from lookalike.gallery import GalleryStore, Hit, StoredImage
from lookalike.gallery.stored_file import read_stored_file
from lookalike.images import Encoded, ImageInput, InMemory, Item, gather
from lookalike.indexing import IndexReport, index_folder, remove_paths
from lookalike.match import Recognition
from lookalike.model import Model, create_model
from lookalike.models.starts import default_start
from lookalike.search import SearchReport, search_gallery
from lookalike.uploads import UploadDecoder
from lookalike.verification import (
    CalibrationReport,
    RecognitionReport,
    Verdict,
    calibrate_model,
    decision_threshold,
    recognise_images,
    required_threshold,
    verify_claim,
    verify_pair,
)
from lookalike.workspace import (
    GallerySummary,
    ModelLike,
    as_model,
    gallery_exists,
    model_of,
    open_store,
    summarise_gallery,
    writable_store,
)

T = TypeVar("T")

UPLOADS_DIR = "uploads"
"""Where images enrolled from memory are kept inside the gallery folder, as PNG files named by content hash."""
FACE_THUMBNAIL_MARGIN = 1.6
"""A face's thumbnail is this many times the face box's longer side: the head and a little around it."""


class UnknownImage(LookalikeError):
    """An image id the gallery does not hold."""

    http_status = 404


@dataclass(frozen=True)
class Enrolment:
    identity: str
    image: StoredImage
    identities: dict[str, int]  # every enrolled identity after this one, with its images
    regions: int = 1  # what the preprocessing stage found in the image (faces); only the first was enrolled


class Session:
    """Index, search, verify, recognise, enrol and calibrate with one gallery and its model."""

    def __init__(self, gallery: str | Path, model: ModelLike = None, *, settings: EmbedSettings = EmbedSettings(),
                 uploads: UploadDecoder | None = None) -> None:
        self.location = gallery
        self.settings = settings
        self.uploads = uploads
        self._model = self._adopt(as_model(model, settings))
        self._reader: GalleryStore | None = None
        self.started_with: str | None = None
        """What the default model is, when this session made one for a new gallery; None otherwise."""
        self._opening = threading.Lock()
        self._writing = threading.Lock()
        if gallery_exists(gallery):
            self._store()  # opens it and checks the model now, not at the first query

    # --- the session itself ---

    def __enter__(self) -> Session:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Session({str(self.location)!r})"

    def close(self) -> None:
        with self._opening:
            if self._reader is not None:
                self._reader.close()
                self._reader = None

    @property
    def model(self) -> Model:
        """The model that embeds for this gallery: the one given, else the gallery's own copy, else (for a gallery
        still to be made) the default start (see lookalike.models.starts), which `started_with` then describes."""
        with self._opening:
            if self._model is None:
                if gallery_exists(self.location):
                    self._open_reader()
                else:
                    start = default_start()
                    self._model = self._adopt(create_model(start.config, weights=start.weights,
                                                           settings=self.settings))
                    self.started_with = start.describe()
            assert self._model is not None
            return self._model

    @property
    def folder(self) -> Path:
        return self._store().folder

    def info(self) -> GallerySummary:
        """How many images, which model, which τ."""
        return summarise_gallery(self._store())

    def identities(self) -> dict[str, int]:
        """Each enrolled identity with its number of images, sorted by name."""
        return self._store().identities()

    # --- building the gallery ---

    def index(self, folder: str | Path, *, prune: bool = False, index_kind: str | None = None,
              on_plan: Callable[[int], None] | None = None,
              on_progress: Callable[[int], None] | None = None, engine: str = DEFAULT_ENGINE,
              engine_options: Mapping[str, Any] | None = None) -> IndexReport:
        """Bring the gallery up to date with the images under `folder`, embedding only new and changed files; with
        `prune`, forget images under it that are gone. `index_kind` ("flat", "hnsw", "ivf") rebuilds the index as
        that kind. `engine` embeds the files: "local", or "ray" with `engine_options` such as {"address": ...} (see
        lookalike.engines). When not one file could be read, `NothingReadable` says why, and a gallery this call
        created is removed again."""
        embed = engine_named(engine, **(engine_options or {}))
        with self._changing(index_kind or "flat") as store:
            return index_folder(store, self.model, folder, index=index_kind, prune=prune, on_plan=on_plan,
                                on_progress=on_progress, engine=embed)

    def remove(self, paths: Sequence[str | Path]) -> int:
        """Forget these images, and every image under these folders; returns how many."""
        self._store()  # the gallery must exist: removing creates nothing
        with self._changing() as store:
            return remove_paths(store, paths)

    # --- searching ---

    def search(self, image: ImageInput, k: int = 10) -> list[Hit]:
        """The `k` gallery images most like one image (by its main region: with face preprocessing, its largest
        face), best first (`.path`, `.score`: cosine similarity)."""
        report = _single(lambda: self.search_all(image, k=k, main_region_only=True))
        if len(report.results) != 1:
            raise ValueError(f"search answers one query, and this gave {len(report.results)} (several images, or "
                             "several regions of one): use search_all")
        return report.results[0].hits

    def search_all(self, images: ImageInput | Sequence[ImageInput], k: int = 10, *, exclude_self: bool = False,
                   main_region_only: bool = False, on_plan: Callable[[int], None] | None = None,
                   on_progress: Callable[[int], None] | None = None) -> SearchReport:
        """The `k` gallery images most like each of `images` (folders searched recursively), one result per region
        the model's stage finds (each face), or with `main_region_only` per image (its largest face); unreadable
        queries are listed in the report. With `exclude_self`, a query file that is in the gallery is not its own
        hit."""
        store = self._store()
        return search_gallery(store, self.model, images, k=k, exclude_self=exclude_self,
                              main_region_only=main_region_only, on_plan=on_plan, on_progress=on_progress)

    def search_from(self, image_id: int, k: int = 10, *, exclude_self: bool = False) -> tuple[StoredImage, list[Hit]]:
        """The gallery image `image_id` and the `k` gallery images most like it (itself left out with
        `exclude_self`), by its stored vector: nothing is decoded or embedded."""
        store = self._store()
        try:
            [image], vectors = store.get([image_id]), store.vectors([image_id])
        except KeyError:
            raise _unknown(image_id) from None
        return image, store.search(vectors, k, exclude=[{image_id}] if exclude_self else None)[0]

    # --- the whole collection ---

    def duplicates(self, *, threshold: float | None = None, level: str = "duplicate", rebuild: bool = False,
                   on_search: Progress | None = None, on_measure: Progress | None = None) -> DuplicateReport:
        """Groups of near-duplicates (with `level="similar"`, of similar images), at a cosine similarity of
        `threshold` or at the level measured for this gallery's model; see lookalike.collection.duplicates. Only the
        images added since the last call are searched for, unless `rebuild`."""
        return find_duplicates(self._store(), self.model, threshold=threshold, level=level, rebuild=rebuild,
                               on_search=on_search, on_measure=on_measure)

    def clusters(self, *, min_size: int = MIN_CLUSTER, rebuild: bool = False,
                 on_search: Progress | None = None) -> ClusterReport:
        """Clusters of look-alikes (with a face model, the people), without a given number: named identities first,
        then numbered clusters of the images no one has named, and the noise; see lookalike.collection.clusters."""
        return find_clusters(self._store(), min_size=min_size, rebuild=rebuild, on_search=on_search)

    def name_cluster(self, key: str, name: str, *, except_paths: Sequence[str | Path] = ()) -> Naming:
        """Enrol numbered cluster `key` of the last `clusters` call as `name` (an existing name: a merge), leaving
        out the images of `except_paths` (a split); see lookalike.collection.naming."""
        self._store()
        with self._changing() as store:
            return name_cluster(store, key, name, except_paths=except_paths)

    def layout(self, *, colour_by: str | None = None, method: str | None = None,
               sample: int = MAP_SAMPLE) -> tuple[Layout, str, list[str | None]]:
        """The gallery's embedding in 2-D (see lookalike.collection.layout), the grouping chosen (cluster, label or
        none) and each laid-out image's group."""
        store = self._store()
        layout = lay_out(store, method=method, sample=sample)
        by, groups = groups_of(store, layout.images, colour_by)
        return layout, by, groups

    def map(self, out: str | Path, *, colour_by: str | None = None, method: str | None = None,
            sample: int = MAP_SAMPLE) -> tuple[Layout, str]:
        """Draw `layout` to a PNG at `out` (see lookalike.report.map); returns the layout and the grouping used."""
        from lookalike.report.map import draw_map

        layout, by, groups = self.layout(colour_by=colour_by, method=method, sample=sample)
        draw_map(layout, groups, out)
        return layout, by

    # --- verification and recognition ---

    def verify(self, first: ImageInput, second: ImageInput, *, threshold: float | None = None) -> Verdict:
        """Do two images show the same identity? τ is `threshold`, else the gallery's, else none (then only the
        distance is given)."""
        return verify_pair(self.model, first, second, decision_threshold(threshold, self._store()))

    def verify_claim(self, image: ImageInput, identity: str, *, threshold: float | None = None,
                     aggregate: str = "nearest") -> Verdict:
        """Is the image the enrolled `identity`?"""
        store = self._store()
        return verify_claim(store, self.model, image, identity, decision_threshold(threshold, store), aggregate)

    def recognise(self, image: ImageInput, *, threshold: float | None = None,
                  aggregate: str = "nearest") -> Recognition:
        """The enrolled identity in one image (by its main region: with face preprocessing, its largest face), or
        unknown (`identity` None), with the distance and τ; `recognise_all` answers for every face."""
        report = _single(lambda: self.recognise_all(image, threshold=threshold, aggregate=aggregate,
                                                    main_region_only=True))
        if len(report.results) != 1:
            raise ValueError(f"recognise answers one query, and this gave {len(report.results)} (several images, or "
                             "several regions of one): use recognise_all")
        return report.results[0][1]

    def recognise_each(self, image: ImageInput, *, threshold: float | None = None,
                       aggregate: str = "nearest") -> RecognitionReport:
        """Every region of one image recognised (with face preprocessing, every face, largest first); an image that
        cannot be read is an error of its own, as for `recognise`."""
        return _single(lambda: self.recognise_all(image, threshold=threshold, aggregate=aggregate))

    def recognise_all(self, images: ImageInput | Sequence[ImageInput], *, threshold: float | None = None,
                      aggregate: str = "nearest", main_region_only: bool = False,
                      on_plan: Callable[[int], None] | None = None,
                      on_progress: Callable[[int], None] | None = None) -> RecognitionReport:
        """The enrolled identity of each image (folders searched recursively), or unknown; unreadable images are
        listed in the report. Without a τ (given or calibrated) there is no decision to make: `NotReady`."""
        store = self._store()
        return recognise_images(store, self.model, images, required_threshold(threshold, store),
                                aggregate=aggregate, main_region_only=main_region_only, on_plan=on_plan,
                                on_progress=on_progress)

    def calibrate(self, folder: str | Path, *, target_far: float | None = None, roc: str | Path | None = None,
                  max_impostors: int = 200_000, on_plan: Callable[[int], None] | None = None,
                  on_progress: Callable[[int], None] | None = None) -> CalibrationReport:
        """Measure verification on a labelled folder (one sub-folder per identity) and store the τ chosen at the EER,
        or at `target_far`, in the gallery. The people should not be the enrolled ones (`overlap` lists any that
        are), so that τ is measured as it will be used: on faces it has not seen."""
        store = self._store()
        report = calibrate_model(self.model, folder, target_far=target_far, roc=roc, max_impostors=max_impostors,
                                 on_plan=on_plan, on_progress=on_progress)
        with self._changing() as writable:
            writable.set_threshold(report.threshold)
        report.stored_in = store.location
        report.overlap = sorted(report.names & set(store.identities()))
        return report

    # --- enrolment ---

    def enrol(self, identity: str, image: ImageInput) -> Enrolment:
        """Store one image as `identity`, by its first region (with face preprocessing, its largest face); the same
        image enrolled again replaces its entry, and what was indexed of it. A file is stored as its path. An image
        held in memory is kept in the gallery's uploads folder, as a PNG of its decoded pixels named by content
        hash: nothing a client sent becomes a path, and what is served back later is a file this process wrote."""
        identity = identity_name(identity)
        [item] = _one(image)
        path = item if isinstance(item, Path) else None
        png = None if isinstance(item, Path) else _png(self._full_pixels(item))
        with self._changing() as store:
            if png is not None:
                path = store.folder / UPLOADS_DIR / f"{hashlib.sha256(png).hexdigest()}.png"
                write_bytes_atomic(path, png)
            assert path is not None
            embedded = self.model.embedder.embed_paths([path])
            if embedded.skipped:
                raise embedded.skipped[0]
            store_enrolled(store, [(path, identity)], embedded.main_regions(), self.model.id)
            stored, identities = store.find(str(path)), store.identities()
        assert stored is not None, "store_enrolled has just committed it"
        return Enrolment(identity, stored, identities, len(embedded.indices))

    def enrol_folder(self, folder: str | Path, *, on_plan: Callable[[int], None] | None = None,
                     on_progress: Callable[[int], None] | None = None) -> EnrolReport:
        """Enrol a folder of known people: one sub-folder per identity, or one image per identity named after it
        (``ann.jpg`` enrols "ann")."""
        found = enrolment_images(folder)
        with self._changing() as store:
            return enrol_found(store, self.model, found, on_plan=on_plan, on_progress=on_progress)

    def rename_identity(self, old: str, new: str) -> int:
        """Give `old`'s images the name `new`; returns how many. Refuses a name that is taken."""
        self._store()
        with self._changing() as store:
            return rename_identity(store, old, new)

    def remove_identity(self, name: str) -> int:
        """Forget `name` and its images; returns how many images went."""
        self._store()
        with self._changing() as store:
            return remove_identity(store, name)

    # --- stored images ---

    def image(self, image_id: int) -> StoredImage:
        """The stored image with this id: the only way a file is ever chosen for a client to see."""
        try:
            [image] = self._store().get([image_id])
        except KeyError:
            raise _unknown(image_id) from None
        return image

    def file(self, image_id: int) -> tuple[StoredImage, bytes]:
        """The stored image `image_id` and its file's bytes, while the file is still the one indexed (see
        `read_stored_file`)."""
        image = self.image(image_id)
        return image, read_stored_file(image)

    def thumbnail(self, image_id: int, size: int) -> bytes:
        """A JPEG of the stored image `image_id` at `size` x `size` pixels: its centre square, or for a face the
        square around that face, so that a hit shows what matched. Made from its file only while that is still the
        one indexed."""
        image, data = self.file(image_id)
        name = Path(image.path).name
        box = face_box(image.region)
        if box is None:
            square = Image.fromarray(decode_rgb(data, size, name=name))
        else:
            square = _square_around(Image.fromarray(decode_rgb(data, name=name)), box, size)
        buffer = io.BytesIO()
        square.save(buffer, format="JPEG", quality=85)
        return buffer.getvalue()

    # --- handles ---

    def _store(self) -> GalleryStore:
        """The read-only handle, opened on first use and brought up to date with the latest commit."""
        with self._opening:
            if self._reader is None:
                self._open_reader()
            else:
                self._reader.refresh()
            assert self._reader is not None
            return self._reader

    def _open_reader(self) -> None:
        store = open_store(self.location, read_only=True)
        try:
            self._model = self._adopt(model_of(store, self._model, self.settings))
        except BaseException:
            store.close()
            raise
        self._reader = store

    @contextmanager
    def _changing(self, index_kind: str = "flat") -> Iterator[GalleryStore]:
        """A writable handle for one change, one change at a time (see `writable_store`)."""
        model = self.model
        with self._writing, writable_store(self.location, model, index=index_kind) as store:
            yield store

    def _adopt(self, model: Model | None) -> Model | None:
        """A session with upload limits has its model decode encoded bytes through them."""
        if model is not None and self.uploads is not None:
            model.decode = self.uploads.decode_regions
        return model

    def _full_pixels(self, item: InMemory) -> np.ndarray:
        """An in-memory image's pixels at full size (bounded by the upload limits for encoded bytes)."""
        if isinstance(item.content, Encoded):
            if self.uploads is not None:
                return self.uploads.decode(item.content)
            return decode_rgb(item.content.data, name=item.content.name)
        image = (ImageOps.exif_transpose(item.content) if isinstance(item.content, Image.Image)
                 else Image.fromarray(item.content))  # as embedding an image held in memory turns it
        return np.asarray(image.convert("RGB"))


def _single(call: Callable[[], T]) -> T:
    """`call()`, where one unreadable image is an error of its own (`BadImage`, or `TooManyPixels`), not the
    `NothingReadable` of a batch."""
    try:
        return call()
    except NothingReadable as error:
        if len(error.skipped) == 1:
            raise error.skipped[0] from None
        raise


def _one(image: ImageInput) -> list[Item]:
    items = gather(image)
    if len(items) != 1:
        raise ValueError(f"expected one image, got {len(items)}")
    return items


def _unknown(image_id: int) -> UnknownImage:
    return UnknownImage(f"no image with id {image_id} in this gallery")


def _png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def _square_around(image: Image.Image, box: tuple[int, int, int, int], size: int) -> Image.Image:
    """The square of `image` centred on `box` (left, top, width, height), moved inside the image where it can be,
    scaled to `size` pixels."""
    left, top, width, height = box
    side = min(FACE_THUMBNAIL_MARGIN * max(width, height), *image.size)
    x = min(max(left + width / 2 - side / 2, 0), image.width - side)
    y = min(max(top + height / 2 - side / 2, 0), image.height - side)
    return image.resize((size, size), Image.Resampling.BICUBIC, box=(x, y, x + side, y + side))
