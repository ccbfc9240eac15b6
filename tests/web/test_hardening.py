"""The server under attack: files swapped after indexing, decompression-heavy uploads, framing, DNS rebinding and
names built to forge output. Each answer is in words, with the right status, and the server keeps going."""

from __future__ import annotations

import os
import platform
import shutil
import struct
import threading
import zlib
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from imagegen import TINY_CONFIG

import lookalike
from lookalike.embed import EmbedSettings
from lookalike.gallery import Gallery
from lookalike.images import Encoded
from lookalike.models import create_encoder, save_model
from lookalike.uploads import Busy, UploadDecoder, UploadLimits
from lookalike.web import create_app

SETTINGS = EmbedSettings(workers=0, precision="fp32")
LOCAL = "http://localhost"
SECRET = b"root:$6$not-an-image:19000:0:99999:7:::\n"


def _png_declaring(width: int, height: int) -> bytes:
    """A tiny PNG whose header declares width x height pixels (most of them never sent)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = zlib.compress(bytes(2 * (1 + 3 * width)))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)) + \
        chunk(b"IDAT", rows) + chunk(b"IEND", b"")


@pytest.fixture
def own_gallery(indexed, tmp_path):
    """A gallery over a copy of the images, so that a test may swap the files under it."""
    images = Path(shutil.copytree(indexed[0], tmp_path / "images"))
    save_model(create_encoder(TINY_CONFIG, seed=0), tmp_path / "model")
    with lookalike.open(tmp_path / "gallery", tmp_path / "model", settings=SETTINGS) as session:
        session.index(images)
    return images, tmp_path / "gallery"


def _client(gallery: Path, **options) -> TestClient:
    return TestClient(create_app(gallery, settings=SETTINGS, **options), base_url=LOCAL)


def _id(gallery: Path, path: Path) -> int:
    with Gallery.open(gallery, read_only=True) as store:
        return store.find(str(path.resolve())).id


def _swap_for_a_link(path: Path, target: Path) -> None:
    path.unlink()
    path.symlink_to(target)


@pytest.mark.parametrize("swap", ["link to a secret", "same size, other bytes", "pipe", "deleted"])
def test_a_file_changed_since_indexing_is_never_served(own_gallery, tmp_path, swap):
    images, gallery = own_gallery
    victim = images / "class0" / "img1.png"
    image_id = _id(gallery, victim)
    secret = tmp_path / "shadow"
    secret.write_bytes(SECRET)
    if swap == "link to a secret":
        _swap_for_a_link(victim, secret)
    elif swap == "same size, other bytes":
        victim.write_bytes(bytes(len(victim.read_bytes())))
    elif swap == "pipe":
        victim.unlink()
        os.mkfifo(victim)  # opening it for reading would block until someone writes
    else:
        victim.unlink()
    with _client(gallery) as client:
        for url in (f"/api/images/{image_id}", f"/api/images/{image_id}/thumbnail"):
            response = client.get(url)
            expected = (404, "no longer on disk") if swap == "deleted" else (410, "changed since it was indexed")
            assert (response.status_code, expected[1] in response.json()["detail"]) == (expected[0], True)
            assert SECRET not in response.content
        assert client.get(f"/api/images/{_id(gallery, images / 'class0' / 'img0.jpg')}").status_code == 200


def test_a_link_that_was_indexed_as_a_link_is_served_while_it_is_unchanged(own_gallery, tmp_path):
    images, gallery = own_gallery
    original = images / "class2" / "img3.png"
    link = images / "class2" / "link.png"
    link.symlink_to(original)
    with lookalike.open(gallery, settings=SETTINGS) as session:
        session.index(images)
    with _client(gallery) as client:
        response = client.get(f"/api/images/{_id(gallery, link)}")
        assert response.status_code == 200 and response.content == original.read_bytes()


def test_uploads_over_the_pixel_limit_are_413_from_their_header(indexed):
    bomb = _png_declaring(9000, 9000)  # 81 Mpx in well under a kilobyte
    assert len(bomb) < 1024
    with _client(indexed[1]) as client:
        response = client.post("/api/search", files={"file": ("bomb.png", bomb, "image/png")})
        assert response.status_code == 413
        assert "9000x9000 pixels exceeds the 24000000-pixel limit" in response.json()["detail"]
    with _client(indexed[1], upload_limits=UploadLimits(max_pixels=1000)) as client:
        small = (indexed[0] / "class0" / "img1.png").read_bytes()  # 48 x 40
        response = client.post("/api/search", files={"file": ("small.png", small, "image/png")})
        assert response.status_code == 413 and "1000-pixel limit" in response.json()["detail"]


def test_when_every_decoding_turn_stays_taken_the_answer_is_503(indexed, monkeypatch):
    def busy(self, upload, size, stage):
        raise Busy("the server is decoding 2 images already; try again in a few seconds")

    monkeypatch.setattr(UploadDecoder, "decode_regions", busy)
    with _client(indexed[1]) as client:
        response = client.post("/api/search", files={"file": ("a.png", b"x", "image/png")})
        assert response.status_code == 503 and response.headers["retry-after"] == "5"
        assert "try again" in response.json()["detail"]


def test_an_upload_decoder_lets_only_so_many_decode_at_once(monkeypatch):
    from lookalike import uploads

    started, release = threading.Event(), threading.Event()

    def slow_decode(data, **options):
        started.set()
        release.wait(10)
        return data

    monkeypatch.setattr(uploads, "decode_rgb", slow_decode)
    decoder = UploadDecoder(UploadLimits(at_once=1, wait_seconds=0.05))
    first = threading.Thread(target=decoder.decode, args=(Encoded("a", b"a"),))
    first.start()
    assert started.wait(10)
    with pytest.raises(Busy, match="decoding 1 images already"):
        decoder.decode(Encoded("b", b"b"))
    release.set()
    first.join()
    assert decoder.decode(Encoded("c", b"c")) == b"c"  # the turn came back


@pytest.mark.parametrize("url", ["/", "/static/index.html", "/docs", "/api/health", "/api/images/999", "/nowhere"])
def test_every_response_carries_the_security_headers(indexed, url):
    with _client(indexed[1]) as client:
        response = client.get(url)
    assert response.headers["x-frame-options"] == "DENY" and response.headers["x-content-type-options"] == "nosniff"
    policy = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy
    assert ("'unsafe-inline'" in policy) == (url == "/docs")  # Swagger UI's start-up script, and only there
    assert response.headers["referrer-policy"] == "no-referrer"


def test_only_the_hosts_the_server_was_started_for_are_answered(indexed):
    with _client(indexed[1]) as client:
        assert client.get("/api/health", headers={"Host": "localhost:8000"}).status_code == 200
        assert client.get("/api/health", headers={"Host": "127.0.0.1"}).status_code == 200
        rebound = client.get("/api/health", headers={"Host": "evil.example"})
        assert rebound.status_code == 400 and "images" not in rebound.text
        assert rebound.headers["x-frame-options"] == "DENY"
    with _client(indexed[1], allowed_hosts=["photos.example.org"]) as client:
        assert client.get("/api/health", headers={"Host": "photos.example.org"}).status_code == 200
        assert client.get("/api/health", headers={"Host": "localhost"}).status_code == 400


def test_allowed_hosts_follow_the_address_the_server_listens_on():
    from lookalike.web.security import allowed_hosts_for

    assert allowed_hosts_for("127.0.0.1") == ["127.0.0.1", "localhost", "[::1]"]
    assert allowed_hosts_for("192.0.2.7", ["Photos.Example.org"]) == ["127.0.0.1", "localhost", "[::1]", "192.0.2.7",
                                                                      "photos.example.org"]
    import socket

    assert socket.gethostname().lower() in allowed_hosts_for("0.0.0.0")


@pytest.mark.parametrize("identity", ["mal\nlory", "tab\there", "esc\x1b[31m", "rtl\u202eevil"])
def test_an_identity_that_could_forge_output_is_refused_by_the_api(writable_gallery, indexed, identity):
    with _client(writable_gallery, token="t") as client:
        response = client.post("/api/enroll", headers={"Authorization": "Bearer t"}, data={"identity": identity},
                               files={"file": ("a.png", (indexed[0] / "class0" / "img1.png").read_bytes())})
        assert response.status_code == 400 and "identity name" in response.json()["detail"]
        assert client.get("/api/gallery").json()["identities"] == {}


def test_a_file_name_that_is_not_utf8_is_served_safely(own_gallery):
    images, gallery = own_gallery
    odd = images / os.fsdecode(b"caf\xe9\nrow.png")
    shutil.copyfile(images / "class1" / "img1.png", odd)
    with lookalike.open(gallery, settings=SETTINGS) as session:
        session.index(images)
    image_id = _id(gallery, odd)
    with _client(gallery) as client:
        found = client.get(f"/api/search/{image_id}?k=2").json()  # it and its twin, img1.png, tie
        assert found["query"] == "caf\\xe9\\nrow.png"
        assert sorted(hit["image"]["name"] for hit in found["hits"]) == ["caf\\xe9\\nrow.png", "img1.png"]
        served = client.get(f"/api/images/{image_id}")
        assert served.status_code == 200 and served.content == odd.read_bytes()
        assert "\n" not in served.headers["content-disposition"]


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_the_server_can_return_large_buffers_to_the_system():
    from lookalike.uploads import return_large_buffers_to_the_system

    assert return_large_buffers_to_the_system() is True


def test_a_full_disk_during_an_enrolment_is_507_in_words(writable_gallery, indexed, monkeypatch):
    from lookalike import session
    from lookalike.errors import WriteFailed

    def full(path, data):
        raise WriteFailed(path, "No space left on device")

    monkeypatch.setattr(session, "write_bytes_atomic", full)
    with _client(writable_gallery, token="t") as client:
        response = client.post("/api/enroll", headers={"Authorization": "Bearer t"}, data={"identity": "ann"},
                               files={"file": ("a.png", (indexed[0] / "class0" / "img1.png").read_bytes())})
        assert response.status_code == 507 and "No space left on device" in response.json()["detail"]
        assert client.get("/api/gallery").json()["identities"] == {}
