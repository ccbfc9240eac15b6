"""The JSON API through FastAPI's TestClient: every endpoint, every error code, and attempts to reach other files."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image
from fastapi.testclient import TestClient
from imagegen import write_truncated_jpeg

from lookalike.embed import EmbedSettings
from lookalike.errors import LookalikeError
from lookalike.gallery import Gallery
from lookalike.web import create_app

TOKEN = "s3cret-token"
LOCAL = "http://localhost"  # a Host the app answers by default (TestClient's own "testserver" is refused)
SETTINGS = EmbedSettings(workers=0, precision="fp32")


@pytest.fixture
def client(indexed):
    with TestClient(create_app(indexed[1], settings=SETTINGS), base_url=LOCAL) as client:
        yield client


@pytest.fixture
def enrolling(writable_gallery):
    with TestClient(create_app(writable_gallery, token=TOKEN, settings=SETTINGS), base_url=LOCAL) as client:
        yield client


def _file(path: Path, field: str = "file") -> dict:
    return {field: (path.name, path.read_bytes(), "application/octet-stream")}


def _id_of(gallery: Path, image: Path) -> int:
    with Gallery.open(gallery, read_only=True) as store:
        return store.find(str(image.resolve())).id


def test_health_and_overview(client):
    assert client.get("/api/health").json() == {"status": "ok", "images": 12}
    overview = client.get("/api/gallery").json()
    assert overview["images"] == 12 and overview["name"] == "gallery"
    assert overview["model"]["backbone"] == "resnet18" and overview["model"]["image_size"] == 32
    assert overview["model"]["embedding_dim"] == 16 and overview["threshold"] is None
    assert overview["identities"] == {} and overview["enrolment"] is False and overview["scorer"] == "cosine"


def test_search_by_upload_finds_the_image_itself_first(client, indexed):
    images, _ = indexed
    query = images / "class2" / "img1.png"
    result = client.post("/api/search?k=5", files=_file(query)).json()
    assert result["query"] == "img1.png" and result["query_image"] is None
    hits = result["hits"]
    assert [hit["rank"] for hit in hits] == [1, 2, 3, 4, 5]
    assert (hits[0]["image"]["name"], hits[0]["image"]["label"], hits[0]["score"] > 0.999) == ("img1.png", "class2",
                                                                                                True)
    assert [hit["score"] for hit in hits] == sorted((hit["score"] for hit in hits), reverse=True)
    assert "path" not in hits[0]["image"] and str(images) not in str(result)  # server paths stay on the server

    thumbnail = client.get(hits[0]["image"]["thumbnail"])
    assert thumbnail.status_code == 200 and thumbnail.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(thumbnail.content)).size == (192, 192)
    original = client.get(hits[0]["image"]["url"])
    assert original.content == query.read_bytes() and original.headers["content-type"] == "image/png"
    assert original.headers["x-content-type-options"] == "nosniff"


def test_search_by_gallery_id(client, indexed):
    images, gallery = indexed
    image_id = _id_of(gallery, images / "class0" / "img2.jpg")
    result = client.get(f"/api/search/{image_id}?k=3").json()
    assert result["query"] == "img2.jpg" and result["query_image"]["id"] == image_id
    assert result["hits"][0]["image"]["id"] == image_id and len(result["hits"]) == 3
    others = client.get(f"/api/search/{image_id}?k=3&exclude_self=true").json()["hits"]
    assert len(others) == 3 and image_id not in [hit["image"]["id"] for hit in others]


@pytest.mark.parametrize("url", ["/api/search/999999", "/api/images/999999", "/api/images/999999/thumbnail",
                                 "/api/images/-1"])
def test_an_unknown_image_id_is_404(client, url):
    response = client.get(url)
    assert response.status_code == 404 and "no image with id" in response.json()["detail"]


def test_k_out_of_range_is_422(client, indexed):
    assert client.post("/api/search?k=0", files=_file(indexed[0] / "class0" / "img0.jpg")).status_code == 422
    assert client.get("/api/search/1?k=101").status_code == 422


def test_verify_gives_the_distance_and_the_decision_at_tau(client, indexed):
    images, _ = indexed
    a, b = images / "class1" / "img0.jpg", images / "class2" / "img3.png"
    same = client.post("/api/verify?threshold=0.01", files={**_file(a, "first"), **_file(a, "second")}).json()
    assert same["decision"] == "same" and same["same"] is True and same["distance"] < 1e-4
    assert same["threshold"] == 0.01 and same["similarity"] == pytest.approx(1 - same["distance"])
    different = client.post("/api/verify?threshold=0.0001", files={**_file(a, "first"), **_file(b, "second")}).json()
    assert different["decision"] == "different" and different["distance"] > 0.0001
    undecided = client.post("/api/verify", files={**_file(a, "first"), **_file(b, "second")}).json()
    assert undecided["decision"] == "undecided" and undecided["same"] is None and undecided["threshold"] is None


def test_recognise_without_tau_or_enrolled_people_is_409_in_words(client, indexed):
    query = _file(indexed[0] / "class0" / "img0.jpg")
    no_tau = client.post("/api/recognize", files=query)
    assert no_tau.status_code == 409 and "no threshold" in no_tau.json()["detail"]
    nobody = client.post("/api/recognize?threshold=0.5", files=query)
    assert nobody.status_code == 409 and "nobody is enrolled" in nobody.json()["detail"]


def test_enrolment_is_off_without_a_token(client, indexed):
    response = client.post("/api/enroll", data={"identity": "ann"}, files=_file(indexed[0] / "class0" / "img0.jpg"))
    assert response.status_code == 404 and "--token" in response.json()["detail"]


def test_enrolment_needs_the_right_token(enrolling, indexed):
    args = {"data": {"identity": "ann"}, "files": _file(indexed[0] / "class0" / "img0.jpg")}
    missing = enrolling.post("/api/enroll", **args)
    assert missing.status_code == 401 and "token" in missing.json()["detail"]
    assert missing.headers["www-authenticate"] == "Bearer"
    wrong = enrolling.post("/api/enroll", headers={"Authorization": "Bearer nope"}, **args)
    assert wrong.status_code == 403 and wrong.json()["detail"] == "the token is wrong"
    assert enrolling.get("/api/gallery").json()["identities"] == {}


def test_enrol_then_recognise(enrolling, writable_gallery, indexed):
    images, _ = indexed
    ann = images / "class1" / "img2.jpg"
    auth = {"Authorization": f"Bearer {TOKEN}"}
    enrolled = enrolling.post("/api/enroll", headers=auth, data={"identity": " ann "}, files=_file(ann))
    assert enrolled.status_code == 200, enrolled.text
    body = enrolled.json()
    assert body["identity"] == "ann" and body["identities"] == {"ann": 1} and body["image"]["identity"] == "ann"
    [stored] = (writable_gallery / "uploads").iterdir()
    assert stored.suffix == ".png" and body["image"]["name"] == stored.name  # named by the server, not the client

    overview = enrolling.get("/api/gallery").json()
    assert overview["images"] == 13 and overview["identities"] == {"ann": 1}
    known = enrolling.post("/api/recognize?threshold=0.01", files=_file(ann)).json()
    assert known["identity"] == "ann" and known["distance"] < 1e-3 and known["threshold"] == 0.01
    assert [(face["region"], face["box"], face["identity"]) for face in known["faces"]] == [("", None, "ann")]
    stranger = enrolling.post("/api/recognize?threshold=0.0001", files=_file(images / "class2" / "img0.jpg")).json()
    assert stranger["identity"] is None and stranger["closest"] == "ann" and stranger["distance"] > 0.0001
    assert enrolling.get(body["image"]["thumbnail"]).status_code == 200

    blank = enrolling.post("/api/enroll", headers=auth, data={"identity": "   "}, files=_file(ann))
    assert blank.status_code == 422


@pytest.fixture
def bad_uploads(tmp_path) -> dict[str, Path]:
    text, empty, truncated = tmp_path / "notes.txt", tmp_path / "empty.png", tmp_path / "cut.jpg"
    text.write_text("this is not an image")
    empty.write_bytes(b"")
    write_truncated_jpeg(truncated)
    return {"not an image": text, "empty file": empty, "truncated file": truncated}


@pytest.mark.parametrize("reason", ["not an image", "empty file", "truncated file"])
def test_a_bad_upload_is_400_with_the_reason(client, enrolling, bad_uploads, reason, indexed):
    bad = bad_uploads[reason]
    good = indexed[0] / "class0" / "img0.jpg"
    responses = [
        client.post("/api/search", files=_file(bad)),
        client.post("/api/verify", files={**_file(good, "first"), **_file(bad, "second")}),
        client.post("/api/recognize?threshold=0.5", files=_file(bad)),
        enrolling.post("/api/enroll", headers={"Authorization": f"Bearer {TOKEN}"}, data={"identity": "x"},
                       files=_file(bad)),
    ]
    for response in responses:
        assert response.status_code == 400, response.text
        assert response.json()["detail"].startswith(bad.name) and reason in response.json()["detail"]


def test_a_missing_file_field_is_422(client):
    assert client.post("/api/search").status_code == 422


def _multipart(payload: bytes) -> tuple[bytes, str]:
    boundary = "lookalike-test-boundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.png\"\r\n"
            f"Content-Type: image/png\r\n\r\n").encode() + payload + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


@pytest.fixture
def small_limit(indexed):
    with TestClient(create_app(indexed[1], max_upload_bytes=16 * 1024, settings=SETTINGS), base_url=LOCAL) as client:
        yield client


def test_an_upload_over_the_limit_is_413_whether_declared_or_streamed(small_limit, indexed):
    message = "the upload is too large: the limit is 16 KiB for one request"
    body, content_type = _multipart(b"\x89PNG" + bytes(32 * 1024))
    declared = small_limit.post("/api/search", content=body, headers={"Content-Type": content_type})
    assert declared.status_code == 413 and declared.json()["detail"] == message

    chunks = iter([body[i:i + 1000] for i in range(0, len(body), 1000)])  # chunked: no Content-Length
    streamed = small_limit.post("/api/search", content=chunks, headers={"Content-Type": content_type})
    assert streamed.status_code == 413 and streamed.json()["detail"] == message

    small = indexed[0] / "class1" / "img1.png"
    assert len(small.read_bytes()) < 8 * 1024
    assert small_limit.post("/api/search", files=_file(small)).status_code == 200


@pytest.mark.parametrize("url", [
    "/api/images/..%2F..%2F..%2Fetc%2Fpasswd",
    "/api/images/%2Fetc%2Fpasswd/thumbnail",
    "/static/..%2F..%2F..%2F..%2Fetc%2Fpasswd",
    "/static/%2E%2E/app.py",
    "/static/../app.py",
])
def test_paths_outside_the_gallery_cannot_be_fetched(client, url):
    response = client.get(url)
    assert response.status_code in (404, 422)
    assert b"root:" not in response.content and b"create_app" not in response.content


def test_the_page_and_offline_api_docs_are_served(client):
    page = client.get("/")
    assert page.status_code == 200 and 'id="search-file"' in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert client.get("/static/app.js").status_code == 200
    docs = client.get("/docs")
    assert docs.status_code == 200 and "cdn" not in docs.text.lower()
    bundle = next(part.split('"')[1] for part in docs.text.split("src=")[1:] if "swagger-ui-bundle" in part)
    assert client.get(bundle).status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/health", "/api/gallery", "/api/search", "/api/search/{image_id}", "/api/verify",
            "/api/recognize", "/api/enroll", "/api/images/{image_id}", "/api/images/{image_id}/thumbnail"} <= set(paths)


def test_a_missing_gallery_or_an_empty_token_is_refused_before_serving(tmp_path, indexed):
    with pytest.raises(LookalikeError, match="no gallery at"):
        create_app(tmp_path / "nothing")
    with pytest.raises(LookalikeError, match="token is empty"):
        create_app(indexed[1], token=" ")


def test_duplicates_and_the_map_of_the_collection(writable_gallery):
    with TestClient(create_app(writable_gallery, settings=SETTINGS), base_url=LOCAL) as client:
        answer = client.get("/api/duplicates", params={"threshold": 0.999})
        assert answer.status_code == 200, answer.text
        duplicates = answer.json()
        assert duplicates["level"] == "given" and duplicates["groups"] == len(duplicates["shown"]) >= 1
        for group in duplicates["shown"]:
            assert len(group) >= 2 and group[0]["score"] == pytest.approx(1.0)
            assert all(member["score"] >= 0.999 - 1e-6 for member in group)
            assert all(member["image"]["thumbnail"].startswith("/api/images/") for member in group)
        assert client.get("/api/duplicates", params={"threshold": 2}).status_code == 422

        answer = client.get("/api/map", params={"sample": 9})
        assert answer.status_code == 200, answer.text
        laid_out = answer.json()
        assert (laid_out["method"], laid_out["colour_by"], laid_out["gallery_images"]) == ("pca", "label", 12)
        assert len(laid_out["points"]) == 9 and {point["group"] for point in laid_out["points"]} <= {
            "class0", "class1", "class2"}
