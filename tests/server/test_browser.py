"""The web page in a real Chromium (Debian's ``chromium`` driven by Playwright): drop a photo, pick a style and
the optimisation engine, watch the progress and the preview, download the PNG, reload and find the job listed.

Screenshots go to ``$STYLEGRAM_SCREENSHOTS`` when set (``docs/images`` keeps the ones in the docs), else to the
test's temporary folder.
"""

import base64
import io
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np
import pytest
from clips import write_clip
from PIL import Image

from .conftest import serve

playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install .[dev])")

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "images"
SIZE = 256

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium to drive (Debian package chromium; make system-deps installs it)"
)


def drop_file(page, selector: str, path: Path, mime: str) -> None:
    """Drop a file on an element the way a drag from the desktop does: a drop event carrying a DataTransfer."""
    transfer = page.evaluate_handle(
        """([data, name, type]) => {
            const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], name, { type }));
            return transfer;
        }""",
        [base64.b64encode(path.read_bytes()).decode(), path.name, mime],
    )
    page.dispatch_event(selector, "drop", {"dataTransfer": transfer})


@pytest.fixture
def shots(tmp_path) -> Path:
    folder = Path(os.environ.get("STYLEGRAM_SCREENSHOTS", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@contextmanager
def open_page(data: Path, *chromium_options: str) -> Iterator:
    """The page of a fresh server with one worker, loaded in Chromium; no script error may happen on it."""
    with serve(data, "--workers", "1") as served, playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", *chromium_options])
        page = browser.new_page(viewport={"width": 1280, "height": 960}, accept_downloads=True)
        errors = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(served.url)
        page.wait_for_selector(".style[aria-checked=true]")
        yield page
        browser.close()
    assert errors == []


@pytest.fixture
def page(tmp_path):
    with open_page(tmp_path / "data") as page:
        yield page


def write_camera(path: Path, frames: int = 30, size=(640, 360)) -> Path:
    """A clip for Chromium's fake camera (Y4M, I420): a slow pan across a photo."""
    photo = np.asarray(Image.open(EXAMPLES / "tubingen.jpg").convert("RGB").resize((size[0] + 2 * frames, size[1])))
    with path.open("wb") as file:
        file.write(f"YUV4MPEG2 W{size[0]} H{size[1]} F15:1 Ip A1:1 C420jpeg\n".encode())
        for index in range(frames):
            crop = np.ascontiguousarray(photo[:, 2 * index : 2 * index + size[0]])
            file.write(b"FRAME\n" + cv2.cvtColor(crop, cv2.COLOR_RGB2YUV_I420).tobytes())
    return path


def test_the_live_tab_streams_the_fake_camera_stylized_in_chromium(tmp_path, shots):
    camera = write_camera(tmp_path / "camera.y4m")
    options = ("--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
               f"--use-file-for-fake-video-capture={camera}")  # fmt: skip
    with open_page(tmp_path / "data", *options) as page:
        page.click("#tab-live")
        assert page.is_hidden("#picture-mode")
        page.select_option("#live-style", "starry_night")
        page.click("#live-start")
        page.wait_for_function("document.querySelector('#live-stats').textContent.includes('frames/s')", timeout=60_000)
        page.wait_for_timeout(3000)  # a few seconds of stream, for the figures
        stats = page.inner_text("#live-stats")
        width, height = page.eval_on_selector("#live-output", "e => [e.naturalWidth, e.naturalHeight]")
        assert (width, height) == (640, 360)
        page.screenshot(path=shots / "web_live.png")
        # The stream keeps coming: the picture shown changes.
        shown = page.get_attribute("#live-output", "src")
        page.wait_for_function(f"document.querySelector('#live-output').src !== {shown!r}", timeout=30_000)
        page.click("#live-stop")
        assert page.is_visible("#live-start") and page.inner_text("#live-message") == ""
    assert float(stats.split(" frames/s")[0]) > 0


def test_upload_progress_download_and_recent_jobs_in_chromium(page, shots):
    drop_file(page, "#drop", EXAMPLES / "tubingen.jpg", "image/jpeg")
    page.wait_for_selector("#content-preview:not([hidden])")
    page.check("input[name=engine][value=gatys]", force=True)
    page.eval_on_selector("#size", f"e => {{ e.value = {SIZE}; e.dispatchEvent(new Event('input')); }}")
    assert page.inner_text("#size-value") == f"{SIZE} px"
    page.click("#start")

    page.wait_for_function("document.querySelector('#status').textContent.includes('step')", timeout=120_000)
    page.wait_for_selector("#result-image[src*='/preview']", timeout=120_000)
    page.screenshot(path=shots / "web_running.png")
    assert page.eval_on_selector("#bar-fill", "e => e.getBoundingClientRect().width") > 0

    page.wait_for_selector("#download:not([hidden])", timeout=300_000)
    assert page.inner_text("#status").startswith("Done")
    page.screenshot(path=shots / "web_done.png")
    with page.expect_download() as download:
        page.click("#download")
    picture = Image.open(io.BytesIO(Path(download.value.path()).read_bytes()))
    assert picture.format == "PNG" and max(picture.size) == SIZE

    page.reload()
    page.wait_for_selector("#recent li .badge.done")
    assert page.locator("#recent li").count() == 1
    page.wait_for_selector("#result-image[src*='/result']")  # the newest job is shown again
    page.wait_for_timeout(500)  # the progress bar's transition
    page.screenshot(path=shots / "web_recent.png", full_page=True)


def test_a_clip_becomes_a_video_job_in_chromium(page, shots, tmp_path):
    # The docs' screenshot uses a real clip ($STYLEGRAM_SCREENSHOT_CLIP); the test, a synthetic one.
    given = os.environ.get("STYLEGRAM_SCREENSHOT_CLIP")
    clip = Path(given) if given else write_clip(tmp_path / "clip.mp4", frames=12)
    page.set_input_files("#content", clip)
    page.wait_for_selector("#content-video:not([hidden])")
    # The page offers what each engine's description says it makes: the photo engine makes pictures only.
    assert page.is_disabled("input[name=engine][value=photo]")
    assert page.is_enabled("input[name=engine][value=gatys]") and page.is_checked("input[name=engine][value=fast]")
    page.eval_on_selector("#size", "e => { e.value = 320; e.dispatchEvent(new Event('input')); }")
    page.click("#start")
    page.wait_for_selector("#result-video:not([hidden])", timeout=300_000)
    assert page.inner_text("#download") == "Download MP4"
    page.wait_for_function("document.querySelector('#result-video').readyState >= 2", timeout=30_000)
    page.screenshot(path=shots / "web_video.png")
    with page.expect_download() as download:
        page.click("#download")
    assert download.value.suggested_filename.endswith(".mp4")


def test_several_photos_make_a_batch_in_chromium(page, shots, tmp_path):
    photos = []
    for name in ("tubingen", "golden_gate"):
        photos.append(tmp_path / f"{name}.jpg")
        Image.open(EXAMPLES / f"{name}.jpg").resize((160, 120)).save(photos[-1])
    page.set_input_files("#content", photos)
    page.wait_for_function("document.querySelector('#drop-text').textContent.startsWith('2 photos')")
    page.eval_on_selector("#size", "e => { e.value = 128; e.dispatchEvent(new Event('input')); }")
    page.click("#start")  # the fast engine with the first shipped style: one job per photo
    page.wait_for_selector("#download:not([hidden])", timeout=120_000)
    page.wait_for_function("document.querySelectorAll('#recent li').length === 2", timeout=60_000)
    page.reload()
    page.wait_for_function("document.querySelectorAll('#recent li .badge.done').length === 2", timeout=60_000)
    page.screenshot(path=shots / "web_batch.png", full_page=True)


def test_a_reference_photos_look_with_the_photo_engine_in_chromium(page, shots):
    drop_file(page, "#drop", EXAMPLES / "tubingen.jpg", "image/jpeg")
    page.wait_for_selector("#content-preview:not([hidden])")
    page.set_input_files("#style-file", EXAMPLES / "hoovertowernight.jpg")  # the look: a photo at night
    page.check("input[name=engine][value=photo]", force=True)
    page.eval_on_selector("#size", f"e => {{ e.value = {SIZE}; e.dispatchEvent(new Event('input')); }}")
    page.click("#start")
    page.wait_for_selector("#download:not([hidden])", timeout=120_000)
    assert page.inner_text("#status").startswith("Done")
    page.wait_for_timeout(500)
    page.screenshot(path=shots / "web_photo.png")
    with page.expect_download() as download:
        page.click("#download")
    picture = Image.open(io.BytesIO(Path(download.value.path()).read_bytes()))
    assert picture.format == "PNG" and max(picture.size) == SIZE


def test_regions_are_found_clicked_and_given_a_painting_or_kept_in_chromium(page, shots):
    drop_file(page, "#drop", EXAMPLES / "tubingen.jpg", "image/jpeg")
    page.wait_for_selector("#content-preview:not([hidden])")
    page.click("#regions-box summary")
    page.select_option("#region-count", "2")
    page.click("#find-regions")
    page.wait_for_selector("#regions-view:not([hidden])", timeout=60_000)
    assert page.locator("#region-list li").count() == 2
    assert page.is_checked("input[name=engine][value=adain]")  # the fast networks paint no regions
    # A click low in the photo picks the bottom region; it keeps the photo, the top one is painted.
    top = page.get_attribute("#region-list li:first-child", "data-colour")  # listed from the top down
    page.locator("#regions-view").scroll_into_view_if_needed()
    view = page.locator("#regions-view").bounding_box()
    page.mouse.click(view["x"] + view["width"] / 2, view["y"] + view["height"] * 0.95)
    bottom = page.get_attribute("#region-list li.selected", "data-colour")
    assert bottom != top
    page.select_option("#region-style", "keep")
    assert "the photo as it is" in page.inner_text("#region-list li.selected")
    page.eval_on_selector("#size", f"e => {{ e.value = {SIZE}; e.dispatchEvent(new Event('input')); }}")
    page.screenshot(path=shots / "web_regions.png", full_page=True)
    page.click("#start")
    page.wait_for_selector("#download:not([hidden])", timeout=120_000)
    assert page.inner_text("#status").startswith("Done")
    page.screenshot(path=shots / "web_regions_done.png", full_page=True)
    job = page.evaluate("fetch('/v1/jobs?ids=' + JSON.parse(localStorage['stylegram.recent'])[0]).then(r => r.json())")
    assert f"{bottom}=keep" in job[0]["params"]["region_styles"]
