"""A new kind of store is one registration: a toy store that keeps its vectors in memory, claimed by a URL scheme,
serves a Session (index, search, enrol, recognise, remove) without the Session knowing what it is."""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path

import numpy as np

import lookalike
from lookalike.embed import EmbedSettings
from lookalike.errors import ModelMismatchError
from lookalike.gallery import GalleryInfo, Hit, StoreKind, StoredImage, register_store, store_names

SETTINGS = EmbedSettings(workers=0, precision="fp32")
SCHEME = "memory://"


class MemoryStore:
    """Vectors in a dict, searched by brute force; changes are visible at once (a toy: commit has nothing to do)."""

    def __init__(self, location: str, model_id: str, dim: int) -> None:
        self.location = location
        name = location[len(SCHEME):]
        self.folder = Path(tempfile.mkdtemp(prefix="memory-store-")) / name  # only for the model copy
        self.folder.mkdir()
        self.model_id, self.dim, self.threshold = model_id, dim, None
        self.rows: dict[int, tuple[StoredImage, np.ndarray]] = {}
        self.next_id = 1

    # what the protocol asks for
    @property
    def info(self) -> GalleryInfo:
        return GalleryInfo(self.model_id, self.dim, "cosine", "flat", self.threshold, len(self.rows))

    @property
    def model_dir(self) -> Path:
        return self.folder / "model"

    def __len__(self) -> int:
        return len(self.rows)

    def __enter__(self) -> MemoryStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def check_model(self, model_id: str) -> None:
        if model_id != self.model_id:
            raise ModelMismatchError(f"{self.folder} holds vectors of {self.model_id}")

    def add(self, records, vectors, *, model_id):
        self.check_model(model_id)
        self.remove([record.path for record in records])
        ids = []
        for record, vector in zip(records, vectors):
            image = StoredImage(**dataclasses.asdict(record), id=self.next_id)
            self.rows[self.next_id] = (image, np.asarray(vector, np.float32))
            ids.append(self.next_id)
            self.next_id += 1
        return ids

    def find(self, path):
        return next((image for image, _ in self.rows.values() if image.path == path), None)

    def images(self):
        return [image for image, _ in self.rows.values()]

    def get(self, ids):
        return [self.rows[id_][0] for id_ in ids]

    def update_mtime(self, path, mtime_ns):
        image = self.find(path)
        self.rows[image.id] = (dataclasses.replace(image, mtime_ns=mtime_ns), self.rows[image.id][1])

    def rename_identity(self, old, new):
        renamed = [image for image in self.images() if image.identity == old]
        for image in renamed:
            self.rows[image.id] = (dataclasses.replace(image, identity=new), self.rows[image.id][1])
        return len(renamed)

    def set_identity(self, ids, identity):
        for id_ in ids:
            image, vector = self.rows[id_]
            self.rows[id_] = (dataclasses.replace(image, identity=identity), vector)
        return len(ids)

    def remove(self, paths):
        doomed = [image.id for image in self.images() if image.path in set(paths)]
        for id_ in doomed:
            del self.rows[id_]
        return len(doomed)

    def vectors(self, ids):
        return np.stack([self.rows[id_][1] for id_ in ids]) if ids else np.zeros((0, self.dim), np.float32)

    def search(self, queries, k, *, exclude=None, enrolled_only=False):
        rows = [(image, vector) for image, vector in self.rows.values()
                if not enrolled_only or image.identity is not None]
        answers = []
        for position, query in enumerate(queries):
            skip = (exclude[position] or set()) if exclude is not None else set()
            scored = sorted(((float(vector @ query), image) for image, vector in rows if image.id not in skip),
                            key=lambda pair: -pair[0])
            answers.append([Hit(image, score) for score, image in scored[:k]])
        return answers

    def nearest(self, queries, k):
        hits = self.search(queries, k)
        scores = np.full((len(queries), k), -np.inf, np.float32)
        ids = np.full((len(queries), k), -1, np.int64)
        for row, row_hits in enumerate(hits):
            scores[row, :len(row_hits)] = [hit.score for hit in row_hits]
            ids[row, :len(row_hits)] = [hit.image.id for hit in row_hits]
        return scores, ids

    def identities(self):
        names = sorted({image.identity for image in self.images() if image.identity is not None})
        return {name: sum(image.identity == name for image in self.images()) for name in names}

    def enrolled_as(self, identity):
        return [image for image in self.images() if image.identity == identity]

    def set_threshold(self, threshold):
        self.threshold = threshold

    def rebuild(self, index):
        pass  # brute force is the only kind it has

    def commit(self):
        pass

    def refresh(self):
        return False

    def close(self):
        pass


STORES: dict[str, MemoryStore] = {}


def _create(location, *, model_id, dim, index, fill):
    store = STORES[location] = MemoryStore(location, model_id, dim)
    fill(store.folder)
    return store


if "memory" not in store_names():
    register_store(StoreKind(name="memory", claims=lambda location: location.startswith(SCHEME),
                             exists=lambda location: location in STORES,
                             open=lambda location, read_only: STORES[location], create=_create,
                             delete=lambda location: STORES.pop(location, None)))


def test_a_session_runs_on_a_registered_store(image_folder, tiny_model, tmp_path):
    location = f"{SCHEME}toy"
    with lookalike.open(location, tiny_model, settings=SETTINGS) as session:
        report = session.index(image_folder)
        assert report.added == 12 and isinstance(STORES[location], MemoryStore)
        query = (image_folder / "class1" / "img3.png").resolve()
        assert session.search(query, k=1)[0].image.path == str(query)
        session.enrol("ann", image_folder / "class0" / "img0.jpg")
        assert session.identities() == {"ann": 1}
        assert session.recognise(image_folder / "class0" / "img0.jpg", threshold=1e-4).identity == "ann"
        assert session.remove([image_folder / "class2"]) == 4 and session.info().info.count == 8
    assert not (tmp_path / "toy").exists()  # nothing was written where a folder store would have been
