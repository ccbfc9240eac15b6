"""A gallery held open with its model, answering questions about images held in memory (uploads): what a server
runs for request after request, with the model loaded once.

Threads may share one service. Queries go through one read-only gallery handle, whose lock serialises each use of
it, and which catches up with the latest commit before each query, so images that another process indexed or
enrolled meanwhile are found; the encoder runs in inference mode, which threads may do at the same time. Enrolment
writes through a short-lived writable handle of its own, one enrolment at a time, so readers wait at most for a
commit and two enrolments never race.
"""

from __future__ import annotations

import hashlib
import io
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from lookalike.atomic import write_bytes_atomic
from lookalike.data import decode_rgb
from lookalike.embed import EmbedSettings, Embedder
from lookalike.enrolment import identity_counts, identity_name, store_enrolled
from lookalike.errors import LookalikeError
from lookalike.gallery import GalleryInfo, Hit, StoredImage
from lookalike.gallery.stored_file import read_stored_file
from lookalike.match import Recognition, distance_for
from lookalike.uploads import Upload, UploadDecoder
from lookalike.verification import Verdict, decision_threshold, read_enrolled, verdict_on
from lookalike.workspace import GallerySummary, ModelLike, open_gallery, open_gallery_without_model, summarise_gallery

UPLOADS_DIR = "uploads"
"""Where enrolled uploads are kept inside the gallery folder, as PNG files named by their content hash."""


class UnknownImage(LookalikeError):
    """An image id the gallery does not hold."""

    http_status = 404


@dataclass(frozen=True)
class Overview:
    summary: GallerySummary
    identities: dict[str, int]  # enrolled identity -> images


@dataclass(frozen=True)
class Enrolment:
    identity: str
    image: StoredImage
    identities: dict[str, int]  # every enrolled identity after this one, with its images


class GalleryService:
    """Search, verify, recognise and enrol with one open gallery and its model; safe to share between threads."""

    def __init__(
        self, gallery: str | Path, model: ModelLike = None, settings: EmbedSettings = EmbedSettings(workers=0),
        uploads: UploadDecoder | None = None,
    ) -> None:
        self._store, encoder = open_gallery(gallery, model, read_only=True)
        self.folder = self._store.folder.resolve()
        self._embedder = Embedder(encoder, settings)
        self.uploads = uploads or UploadDecoder()
        self._scorer = distance_for(encoder)
        self._writing = threading.Lock()

    def close(self) -> None:
        self._store.close()

    @property
    def scorer(self) -> str:
        """How verification and recognition measure distance: "cosine" or "pair head"."""
        return self._scorer.name

    def info(self) -> GalleryInfo:
        self._store.refresh()
        return self._store.info

    def overview(self) -> Overview:
        self._store.refresh()
        return Overview(summarise_gallery(self._store), identity_counts(self._store))

    def search(self, upload: Upload, k: int) -> list[Hit]:
        """The `k` gallery images most like an uploaded image, best first."""
        vectors = self._embedder.embed_images([self._pixels(upload)])
        self._store.refresh()
        return self._store.search(vectors, k)[0]

    def search_from(self, image_id: int, k: int, *, exclude_self: bool = False) -> tuple[StoredImage, list[Hit]]:
        """The gallery image `image_id` and the `k` gallery images most like it (itself left out with
        `exclude_self`), by its stored vector: nothing is decoded or embedded."""
        self._store.refresh()
        try:
            [image], vectors = self._store.get([image_id]), self._store.vectors([image_id])
        except KeyError:
            raise _unknown(image_id) from None
        return image, self._store.search(vectors, k, exclude=[{image_id}] if exclude_self else None)[0]

    def verify(self, first: Upload, second: Upload, threshold: float | None = None) -> Verdict:
        """Do two uploaded images show the same identity? τ is `threshold`, else the gallery's, else none."""
        vectors = self._embedder.embed_images([self._pixels(first), self._pixels(second)])
        self._store.refresh()
        return verdict_on(vectors, first[0], second[0], self._scorer, decision_threshold(threshold, self._store))

    def recognise(self, upload: Upload, threshold: float | None = None,
                  aggregate: str = "nearest") -> tuple[Recognition, float]:
        """The enrolled identity in an uploaded image, or unknown; with the τ it was decided at."""
        vectors = self._embedder.embed_images([self._pixels(upload)])
        self._store.refresh()
        enrolled = read_enrolled(self._store, threshold)
        [result] = enrolled.recognise(vectors, self._scorer, aggregate)
        return result, enrolled.tau

    def enrol(self, identity: str, upload: Upload) -> Enrolment:
        """Store an uploaded image as `identity`. The image is kept in the gallery's uploads folder as a PNG of its
        decoded pixels, named by content hash: nothing the client sent becomes a path, and what is served back later
        is an image this process wrote. The same image enrolled again replaces its entry."""
        identity = identity_name(identity)
        png = _png(self.uploads.decode(upload))
        vectors = self._embedder.embed_images([decode_rgb(png, self._embedder.image_size, name=upload[0])])
        digest = hashlib.sha256(png).hexdigest()
        path = self.folder / UPLOADS_DIR / f"{digest}.png"
        with self._writing:
            write_bytes_atomic(path, png)
            with open_gallery_without_model(self.folder) as store:
                store_enrolled(store, [(path, identity)], vectors, [digest], self._store.info.model_id)
                stored, identities = store.find(str(path)), identity_counts(store)
        assert stored is not None, "store_enrolled has just committed it"
        return Enrolment(identity, stored, identities)

    def image(self, image_id: int) -> StoredImage:
        """The stored image with this id: the only way a file is ever chosen for a client to see."""
        try:
            [image] = self._store.get([image_id])
        except KeyError:
            raise _unknown(image_id) from None
        return image

    def file(self, image_id: int) -> tuple[StoredImage, bytes]:
        """The stored image `image_id` and its file's bytes, while the file is still the one indexed (see
        `read_stored_file`)."""
        image = self.image(image_id)
        return image, read_stored_file(image)

    def thumbnail(self, image_id: int, size: int) -> bytes:
        """A JPEG of the stored image `image_id`, its centre square scaled to `size` pixels, made from its file
        only while that is still the one indexed."""
        image, data = self.file(image_id)
        buffer = io.BytesIO()
        Image.fromarray(decode_rgb(data, size, name=Path(image.path).name)).save(buffer, format="JPEG", quality=85)
        return buffer.getvalue()

    def _pixels(self, upload: Upload) -> np.ndarray:
        """An upload decoded at the encoder's input size, within the upload limits."""
        return self.uploads.decode(upload, self._embedder.image_size)


def _unknown(image_id: int) -> UnknownImage:
    return UnknownImage(f"no image with id {image_id} in this gallery")


def _png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()
