"""Milvus as a gallery store, end to end: the same answers as a folder gallery for photos it never saw, one process
per Milvus Lite file (said in one line), a Milvus server reached over the network, and the web service on top.

The store's own behaviour is the parametrised contract in tests/gallery/test_store_contract.py."""

from __future__ import annotations

import io
import json
import socket
import subprocess
import sys
import time

import pytest
from fastapi.testclient import TestClient
from imagegen import write_image_folder

from lookalike.embed import EmbedSettings
from lookalike.gallery import MilvusGallery
from lookalike.model import load_model
from lookalike.web import create_app
from lookalike.workspace import writable_store

pytest.importorskip("milvus_lite", reason="the Milvus store needs the milvus extra (make test installs it)")

SETTINGS = EmbedSettings(workers=0, precision="fp32")


def unseen_photos(tmp_path):
    """Photos of the indexed classes that the gallery never saw: variants 4 and 5 (image_folder holds 0 to 3)."""
    files = write_image_folder(tmp_path / "unseen", per_class=6)
    return [path for path in files if path.stem in ("img4", "img5")]


def top5(cli, gallery, queries):
    found = json.loads(cli("search", *queries, "--gallery", gallery, "-k", "5", "--json").stdout)
    return [[(hit["path"], round(hit["score"], 4)) for hit in result["hits"]] for result in found["results"]]


def test_a_milvus_lite_gallery_answers_like_a_folder_gallery_and_one_process_holds_it(image_folder, tiny_model,
                                                                                      tmp_path, cli):
    queries, gallery = unseen_photos(tmp_path), tmp_path / "g.db"
    for location in (tmp_path / "folder", gallery):
        cli("index", image_folder, "--gallery", location, "--model", tiny_model, "--workers", "0")

    on_milvus = top5(cli, gallery, queries)

    assert len(on_milvus) == 6 and all(len(hits) == 5 for hits in on_milvus)
    assert on_milvus == top5(cli, tmp_path / "folder", queries)
    refused = subprocess.run([sys.executable, "-m", "lookalike", "info", "--gallery", str(gallery)],
                             capture_output=True, text=True, timeout=120)  # while this process has the file
    assert refused.returncode == 2
    [line] = refused.stderr.strip().splitlines()
    assert "open in another process" in line and f"milvus-lite server --data-dir {gallery}" in line


def test_a_collection_released_by_milvus_is_loaded_again_on_open(image_folder, tiny_model, tmp_path, cli):
    """A new process, or a restarted server, finds the collection released: opening loads it before searching."""
    gallery = tmp_path / "g.db"
    cli("index", image_folder, "--gallery", gallery, "--model", tiny_model, "--workers", "0")
    with MilvusGallery.open(gallery) as store:
        store._open().release_collection("lookalike")

    query = (image_folder / "class0" / "img1.png").resolve()
    [result] = json.loads(cli("search", query, "--gallery", gallery, "-k", "1", "--json").stdout)["results"]
    assert result["hits"][0]["path"] == str(query)


@pytest.fixture
def milvus_server(tmp_path):
    """`milvus-lite server` on a free local port: what several processes share instead of one .db file."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "milvus_lite", "server", "--data-dir", str(tmp_path / "served"),
                               "--host", "127.0.0.1", "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            assert server.poll() is None and time.monotonic() < deadline, "milvus-lite server did not start"
            time.sleep(0.2)
    yield f"http://127.0.0.1:{port}"
    server.terminate()
    server.wait(timeout=30)


def test_a_milvus_server_collection_is_a_gallery(image_folder, tiny_model, tmp_path, cli, milvus_server,
                                                 monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    gallery = f"{milvus_server}?collection=photos"

    indexed = cli("index", image_folder, "--gallery", gallery, "--model", tiny_model, "--workers", "0")
    assert "12 added" in indexed.stdout and gallery in indexed.stdout

    assert "0 added, 0 updated, 12 unchanged" in cli("index", image_folder, "--gallery", gallery).stdout
    query = (image_folder / "class1" / "img2.jpg").resolve()
    [result] = json.loads(cli("search", query, "--gallery", gallery, "-k", "3", "--json").stdout)["results"]
    assert result["hits"][0]["path"] == str(query)
    assert list((tmp_path / "data" / "lookalike" / "milvus").glob("*/photos/model/config.json"))  # the model copy
    other = cli("info", "--gallery", f"{milvus_server}?collection=nothing_here", check_code=2)
    assert "no gallery at" in other.stderr


def test_the_web_service_serves_a_milvus_lite_gallery(image_folder, tiny_model, tmp_path, cli):
    gallery = tmp_path / "g.db"
    cli("index", image_folder, "--gallery", gallery, "--model", tiny_model, "--workers", "0")
    query = image_folder / "class2" / "img1.png"

    with TestClient(create_app(str(gallery), settings=SETTINGS), base_url="http://127.0.0.1") as client:
        overview = client.get("/api/gallery").json()
        hits = client.post("/api/search?k=3", files={"file": (query.name, io.BytesIO(query.read_bytes()))}
                           ).json()["hits"]
        thumbnail = client.get(hits[0]["image"]["thumbnail"])

    assert overview["images"] == 12 and overview["name"] == "g.db"
    assert (hits[0]["image"]["name"], hits[0]["score"] > 0.999) == ("img1.png", True)
    assert thumbnail.status_code == 200


def test_copy_gallery_moves_a_folder_gallery_into_milvus_and_back_without_embedding(image_folder, tiny_model,
                                                                                    tmp_path, cli):
    folder, on_milvus, back = tmp_path / "folder", tmp_path / "g.db", tmp_path / "back"
    for path in write_image_folder(tmp_path / "people", classes=2, per_class=6):
        if path.stem not in ("img4", "img5"):  # people unlike any indexed photo: no tied scores to order
            path.unlink()
    cli("index", image_folder, "--gallery", folder, "--model", tiny_model, "--workers", "0")
    cli("enroll", tmp_path / "people", "--gallery", folder, "--workers", "0")
    with writable_store(folder, load_model(tiny_model)) as store:
        store.set_threshold(0.25)

    assert "copied 16 images" in cli("copy-gallery", folder, on_milvus, "--index", "hnsw").stdout
    assert "copied 16 images" in cli("copy-gallery", on_milvus, back).stdout

    queries = unseen_photos(tmp_path)
    answers = [top5(cli, gallery, queries) for gallery in (folder, on_milvus, back)]
    assert answers[0] == answers[1] == answers[2]
    for gallery in (on_milvus, back):
        info = cli("info", "--gallery", gallery).stdout
        assert "images: 16" in info and "0.25" in info
        assert cli("identities", "--gallery", gallery).stdout.splitlines() == ["class0,2", "class1,2"]
    refused = cli("copy-gallery", folder, on_milvus, check_code=2)
    assert "already holds a gallery" in refused.stderr
