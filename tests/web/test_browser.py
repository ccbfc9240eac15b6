"""Pages in a real browser: headless Chromium (Debian's package, never a browser Playwright downloads) driven by
Playwright, against `lookalike serve` started as a user starts it, and on the demo's report as a newcomer opens it.
Screenshots go to test-artifacts/."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from lookalike.gallery import Gallery

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM = shutil.which("chromium")

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (no `chromium` on PATH); "
                                                         "`make test` installs Debian's chromium package where "
                                                         "apt-get can")
playwright = pytest.importorskip("playwright.sync_api", reason="the playwright package is missing: pip install "
                                                                "-e '.[test]'")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def _serving(gallery: Path, tmp_path: Path) -> Iterator[str]:
    """`lookalike serve` on `gallery`, on a free loopback port; its URL once /api/health answers."""
    port, log = _free_port(), tmp_path / "serve.log"
    with open(log, "w") as output:
        process = subprocess.Popen([sys.executable, "-m", "lookalike", "serve", "--gallery", str(gallery),
                                    "--port", str(port), "--precision", "fp32"], stdout=output, stderr=output)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                pytest.fail(f"lookalike serve exited with {process.returncode}:\n{log.read_text()}")
            try:
                with urllib.request.urlopen(f"{url}/api/health", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"lookalike serve did not answer within 120 s:\n{log.read_text()}")
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture
def server(writable_gallery, tmp_path):
    """`lookalike serve` on a copy of the small gallery (the collection views keep their work beside it)."""
    with _serving(writable_gallery, tmp_path) as url:
        yield url


def test_search_verify_and_errors_in_chromium(server, indexed, tmp_path):
    images, gallery = indexed
    query = images / "class1" / "img3.png"
    with Gallery.open(gallery, read_only=True) as store:
        query_id = store.find(str(query.resolve())).id
    not_an_image = tmp_path / "notes.txt"
    not_an_image.write_text("hello")
    ARTIFACTS.mkdir(exist_ok=True)
    expect = playwright.expect

    with playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            script_errors: list[str] = []
            page.on("pageerror", lambda error: script_errors.append(str(error)))
            page.goto(server)
            expect(page.locator("#overview-images")).to_have_text("12")
            expect(page.locator("#overview-model")).to_contain_text("resnet18 at 32 px")

            page.set_input_files("#search-file", str(query))
            tiles = page.locator("#search-results .hit")
            expect(tiles).to_have_count(12)
            expect(tiles.first).to_have_attribute("data-id", str(query_id))  # the image is its own top hit
            expect(tiles.first.locator(".name")).to_have_text("class1/img3.png")
            page.wait_for_function("() => [...document.querySelectorAll('#search-results img')]"
                                   ".every(img => img.complete && img.naturalWidth === 192)")
            page.screenshot(path=ARTIFACTS / "browser-search-upload.png", full_page=True)

            with page.expect_response(lambda response: f"/api/search/{query_id}?" in response.url) as searched:
                tiles.first.click()
            assert searched.value.ok
            expect(page.locator("#search-status")).to_contain_text(f"look-alikes of img3.png (gallery image "
                                                                   f"#{query_id})")
            expect(tiles).to_have_count(11)  # a search from a gallery image leaves that image out
            assert str(query_id) not in tiles.evaluate_all("tiles => tiles.map(tile => tile.dataset.id)")
            page.screenshot(path=ARTIFACTS / "browser-search-from-hit.png", full_page=True)

            page.set_input_files("#search-file", str(not_an_image))
            expect(page.locator("#search-error")).to_have_text("Error: notes.txt: not an image")

            page.click("button[data-panel=verify-panel]")
            page.set_input_files("#verify-first", str(query))
            page.set_input_files("#verify-second", str(query))
            page.fill("#verify-threshold", "0.01")
            page.click("#verify-form button[type=submit]")
            expect(page.locator("#verify-result")).to_contain_text("same: distance 0.0000")

            page.click("button[data-panel=collection-panel]")
            page.click("#map-form button[type=submit]")
            dots = page.locator("#map-plot circle")
            expect(dots).to_have_count(12, timeout=60_000)  # t-SNE, scikit-learn imported the first time
            expect(page.locator("#map-status")).to_contain_text("12 images laid out by t-SNE, coloured by label")
            expect(page.locator("#map-legend li")).to_have_count(3)
            dots.first.hover()
            expect(page.locator("#map-preview")).to_be_visible()
            page.click("#duplicates-form button[type=submit]")
            expect(page.locator("#duplicates-status")).to_contain_text("groups of near-duplicates at similarity",
                                                                       timeout=60_000)
            page.screenshot(path=ARTIFACTS / "browser-collection.png", full_page=True)
            assert script_errors == []
        finally:
            browser.close()


def test_the_demo_report_renders_in_chromium_with_every_figure(demo_run):
    report = demo_run.result.report
    ARTIFACTS.mkdir(exist_ok=True)
    with playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.goto(report.as_uri())
            playwright.expect(page.locator("h2").first).to_have_text("Result")
            playwright.expect(page.locator("p.note").first).to_contain_text("lookalike's trained encoder finds")
            sources = page.locator("img").evaluate_all("imgs => imgs.map(img => img.getAttribute('src'))")
            assert sources == ["scores.png", "search-grid.png", "model/curves.png", "map.png"]
            page.wait_for_function("() => [...document.images].every(img => img.complete && img.naturalWidth > 0)")
            playwright.expect(page.locator("pre code")).to_contain_text("lookalike serve --gallery")
            page.screenshot(path=ARTIFACTS / "demo-report.png", full_page=True)
        finally:
            browser.close()


LFW = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "lfw_deepfunneled_subset"


def test_a_group_photo_shows_every_face_boxed_and_named_in_chromium(tmp_path):
    from PIL import Image

    import lookalike
    from lookalike.embed import EmbedSettings
    from lookalike.faces.dlib_files import FacesNotInstalled, dlib

    try:
        dlib()
    except FacesNotInstalled as missing:
        pytest.skip(str(missing))
    if not LFW.is_dir():
        pytest.skip(f"real faces not present at {LFW}")
    people = tmp_path / "people"
    people.mkdir()
    for person in ("Abdullah_Gul", "Alejandro_Toledo"):
        (people / f"{person}.jpg").symlink_to(LFW / person / f"{person}_0001.jpg")
    settings = EmbedSettings(workers=0)
    model = lookalike.create_model(lookalike.EncoderConfig.for_backbone("dlib-face"), settings=settings)
    with lookalike.open(tmp_path / "g", model, settings=settings) as session:
        session.enrol_folder(people)
    group = Image.new("RGB", (700, 260), "white")
    group.paste(Image.open(LFW / "Alejandro_Toledo" / "Alejandro_Toledo_0002.jpg").resize((200, 200)), (0, 30))
    group.paste(Image.open(LFW / "Abdullah_Gul" / "Abdullah_Gul_0002.jpg"), (220, 0))
    group.paste(Image.open(LFW / "Amelie_Mauresmo" / "Amelie_Mauresmo_0001.jpg").resize((220, 220)), (480, 20))
    group.save(tmp_path / "group.jpg")
    ARTIFACTS.mkdir(exist_ok=True)
    with _serving(tmp_path / "g", tmp_path) as url, playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM)
        try:
            page = browser.new_page(viewport={"width": 1000, "height": 800})
            page.goto(url)
            page.click("button[data-panel=recognize-panel]")
            page.fill("#recognize-threshold", "0.1")
            page.set_input_files("#recognize-file", str(tmp_path / "group.jpg"))
            boxes = page.locator("#recognize-boxes .face-box")
            playwright.expect(boxes).to_have_count(3)
            names = boxes.locator("span").all_text_contents()
            assert sorted(name.split()[0] for name in names) == ["Abdullah_Gul", "Alejandro_Toledo", "unknown"]
            assert page.locator("#recognize-boxes .face-box.unknown").count() == 1
            playwright.expect(page.locator("#recognize-result")).to_contain_text("3 faces:")
            page.screenshot(path=ARTIFACTS / "browser-faces.png", full_page=True)
        finally:
            browser.close()
