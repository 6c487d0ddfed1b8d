"""The REST API with a test client; queued jobs are run in the test process (as a worker would) so each step
can be checked: queueing, reports, collection, results, events, cancel, retries, limits and the token."""

import dataclasses
import io
import json
import threading
import time
from pathlib import Path

import pytest
import torch
from clips import write_clip
from PIL import Image, ImageColor

from stylegram.io.image import image_to_tensor
from stylegram.io.video import probe_video
from stylegram.server import ServiceSettings, create_app
from stylegram.server.records import is_job_id
from stylegram.server.task import report_key

from .conftest import local_client

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "images"


def run_queued(app) -> int:
    """Run every queued task here, like a worker, then collect the reports; returns how many ran."""
    huey, collector = app.state.service.queue.huey, app.state.service.collector
    count = 0
    while (task := huey.dequeue()) is not None:
        huey.execute(task)
        count += 1
    collector.collect_once()
    return count


@pytest.fixture
def settings(tmp_path) -> ServiceSettings:
    return ServiceSettings(data_dir=tmp_path / "data", stale_after_s=0.2)


@pytest.fixture
def photo(content_path) -> bytes:
    return content_path.read_bytes()


def _png(side: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (side, side), (90, 120, 200)).save(buffer, format="PNG")
    return buffer.getvalue()


def submit(client, photo, **fields):
    fields = {"engine": "fast", "style": "starry_night", "size": 64, **fields}
    return client.post("/v1/jobs", files={"content": ("photo.png", photo)}, data=fields)


def test_fast_job_is_queued_then_done_with_a_png_of_the_asked_size(client, app, photo):
    response = submit(client, photo, size=80)
    assert response.status_code == 202
    job = response.json()
    assert is_job_id(job["id"]) and job["status"] == "queued" and job["result_url"] is None
    assert run_queued(app) == 1
    done = client.get(f"/v1/jobs/{job['id']}").json()
    assert done["status"] == "done", done["error"]
    assert done["run"]["model_style"]
    picture = client.get(done["result_url"])
    assert picture.headers["content-type"] == "image/png"
    assert "attachment" in picture.headers["content-disposition"]
    assert max(Image.open(io.BytesIO(picture.content)).size) == 80


def test_a_clip_makes_a_video_job_with_an_mp4_result(client, app, tmp_path):
    clip = write_clip(tmp_path / "clip.mp4", frames=8)
    response = client.post("/v1/jobs", files={"content": ("clip.mp4", clip.read_bytes())},
                           data={"style": "starry_night", "size": 64})  # fmt: skip
    assert response.status_code == 202, response.text
    job = response.json()
    assert job["params"]["kind"] == "video"
    run_queued(app)
    done = client.get(f"/v1/jobs/{job['id']}").json()
    assert done["status"] == "done", done["error"]
    assert done["progress"]["step"] == done["progress"]["total"] == 8
    assert done["run"]["frames"] == 8 and done["run"]["has_audio"]
    result = client.get(done["result_url"])
    assert result.headers["content-type"] == "video/mp4"
    assert result.headers["content-disposition"].endswith('.mp4"')
    stored = tmp_path / "result.mp4"
    stored.write_bytes(result.content)
    assert probe_video(stored).frames == 8 and probe_video(stored).width == 64


def test_a_clip_with_an_uploaded_painting_is_made_by_a_one_pass_engine(client, app, tmp_path):
    clip = write_clip(tmp_path / "clip.mp4", frames=8)
    painting = (EXAMPLES / "the_scream.jpg").read_bytes()
    response = client.post("/v1/jobs", files={"content": ("clip.mp4", clip.read_bytes()),
                                              "style_image": ("scream.jpg", painting)},
                           data={"engine": "adain", "size": 64})  # fmt: skip
    assert response.status_code == 202, response.text
    run_queued(app)
    done = client.get(f"/v1/jobs/{response.json()['id']}").json()
    assert done["status"] == "done", done["error"]
    assert done["run"]["frames"] == 8 and done["run"]["has_audio"]
    stored = tmp_path / "result.mp4"
    stored.write_bytes(client.get(done["result_url"]).content)
    assert probe_video(stored).frames == 8 and probe_video(stored).width == 64


def test_video_jobs_are_for_the_video_engines_and_short_clips(client, tmp_path, settings):
    clip = write_clip(tmp_path / "clip.mp4", frames=8)
    response = client.post("/v1/jobs", files={"content": ("c.mp4", clip.read_bytes())},
                           data={"engine": "photo", "style": "starry_night"})  # fmt: skip
    assert response.status_code == 400 and "videos are made by the engines" in response.json()["detail"]
    response = client.post("/v1/jobs", files={"content": ("c.mp4", clip.read_bytes())},
                           data={"engine": "gatys", "style": "starry_night", "size": 1536})  # fmt: skip
    assert response.status_code == 400 and "limit of 1024 px for the gatys video jobs" in response.json()["detail"]
    settings.max_video_seconds = 0.5  # the clip lasts 8 frames at 12 fps
    response = client.post("/v1/jobs", files={"content": ("c.mp4", clip.read_bytes())}, data={"style": "starry_night"})
    assert response.status_code == 400 and "lasts" in response.json()["detail"]


def test_job_ids_differ_and_are_not_sequential(client, photo):
    ids = {submit(client, photo).json()["id"] for _ in range(5)}
    assert len(ids) == 5 and all(len(job_id) == 22 for job_id in ids)


def test_optimisation_job_with_an_uploaded_painting_reports_progress_and_a_preview(client, app, photo, style_path):
    response = client.post(
        "/v1/jobs",
        files={"content": ("photo.png", photo), "style_image": ("painting.png", style_path.read_bytes())},
        data={"engine": "gatys", "size": 64, "iterations": 6},
    )
    assert response.status_code == 202, response.text
    run_queued(app)
    job = client.get(f"/v1/jobs/{response.json()['id']}").json()
    assert job["status"] == "done", job["error"]
    assert job["progress"]["step"] == job["progress"]["total"] > 0
    assert job["preview_url"] is not None
    preview = client.get(job["preview_url"])
    assert preview.headers["content-type"] == "image/jpeg"
    assert (
        Image.open(io.BytesIO(preview.content)).size
        == Image.open(io.BytesIO(client.get(job["result_url"]).content)).size
    )


@pytest.mark.parametrize(("engine", "style"), [("adain", "starry_night"), ("wct", None)])
def test_one_pass_engines_take_a_shipped_style_or_an_uploaded_painting(client, app, photo, style_path, engine, style):
    files = {"content": ("photo.png", photo)}
    if style is None:
        files["style_image"] = ("painting.png", style_path.read_bytes())
    response = client.post(
        "/v1/jobs", files=files, data={"engine": engine, "size": 96, **({"style": style} if style else {})}
    )
    assert response.status_code == 202, response.text
    run_queued(app)
    job = client.get(f"/v1/jobs/{response.json()['id']}").json()
    assert job["status"] == "done", job["error"]
    assert job["run"]["levels"] == (["relu4_1"] if engine == "adain" else ["relu4_1", "relu1_1"])
    assert Image.open(io.BytesIO(client.get(job["result_url"]).content)).size == (96, 72)


def test_events_stream_progress_until_the_final_state(settings, photo):
    app = create_app(dataclasses.replace(settings, stale_after_s=30))  # with its collector thread, as served
    with local_client(app) as client:
        job_id = submit(client, photo, engine="gatys", iterations=12).json()["id"]
        worker = threading.Thread(target=run_queued, args=(app,))
        worker.start()
        with client.stream("GET", f"/v1/jobs/{job_id}/events") as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            body = stream.read().decode()
        worker.join()
    events = [block for block in body.split("\n\n") if block.strip()]
    names = [
        line.removeprefix("event: ") for block in events for line in block.splitlines() if line.startswith("event:")
    ]
    payloads = [
        json.loads(line.removeprefix("data: "))
        for block in events
        for line in block.splitlines()
        if line.startswith("data:")
    ]
    assert names[-1] == "done" and payloads[-1]["result_url"]
    steps = [payload["progress"]["step"] for payload in payloads]
    assert steps == sorted(steps) and len(set(steps)) >= 2


def test_cancel_a_queued_job_revokes_it(client, app, photo):
    job_id = submit(client, photo).json()["id"]
    cancelled = client.post(f"/v1/jobs/{job_id}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    run_queued(app)
    assert client.get(f"/v1/jobs/{job_id}").json()["status"] == "cancelled"
    assert client.get(f"/v1/jobs/{job_id}/result").status_code == 409
    assert client.post(f"/v1/jobs/{job_id}/cancel").status_code == 409


def test_cancel_stops_a_running_optimisation(client, app, photo):
    job_id = submit(client, photo, engine="gatys", iterations=400).json()["id"]
    huey = app.state.service.queue.huey
    task = huey.dequeue()
    worker = threading.Thread(target=huey.execute, args=(task,))
    worker.start()
    deadline = time.monotonic() + 60
    while huey.get(report_key(job_id, 1, "progress"), peek=True) is None and time.monotonic() < deadline:
        time.sleep(0.05)
    client.post(f"/v1/jobs/{job_id}/cancel")
    worker.join(timeout=60)
    assert not worker.is_alive()
    outcome = huey.get(report_key(job_id, 1, "outcome"), peek=True)
    assert outcome["status"] == "cancelled"
    assert huey.get(report_key(job_id, 1, "progress"), peek=True)["step"] < 400


def test_a_job_whose_worker_went_silent_is_retried_then_finishes(client, app, photo):
    service = app.state.service
    job_id = submit(client, photo).json()["id"]
    service.queue.huey.dequeue()  # a worker took it …
    service.queue.huey.put(report_key(job_id, 1, "beat"), {"count": 1, "worker": "lost:1"})
    service.collector.collect_once()
    assert client.get(f"/v1/jobs/{job_id}").json()["status"] == "running"
    time.sleep(0.3)  # … and died: no heartbeat for longer than stale_after_s
    service.collector.collect_once()
    retried = client.get(f"/v1/jobs/{job_id}").json()
    assert retried["status"] == "queued" and retried["attempt"] == 2
    assert run_queued(app) == 1
    assert client.get(f"/v1/jobs/{job_id}").json()["status"] == "done"


def test_a_job_is_failed_after_its_last_attempt(client, app, photo, settings):
    service = app.state.service
    job_id = submit(client, photo).json()["id"]
    for attempt in range(1, settings.attempts + 1):
        assert service.queue.huey.dequeue() is not None
        service.queue.huey.put(report_key(job_id, attempt, "beat"), {"count": 1, "worker": "lost:1"})
        service.collector.collect_once()
        time.sleep(0.3)
        service.collector.collect_once()
    job = client.get(f"/v1/jobs/{job_id}").json()
    assert job["status"] == "failed" and f"after {settings.attempts} attempts" in job["error"]


def test_jobs_and_results_survive_a_restart(settings, photo):
    with local_client(create_app(settings, collect=False)) as client:
        finished = submit(client, photo).json()["id"]
        run_queued(client.app)
        waiting = submit(client, photo).json()["id"]
    restarted = create_app(settings, collect=False)
    with local_client(restarted) as client:
        assert client.get(f"/v1/jobs/{waiting}").json()["status"] == "queued"
        assert client.get(f"/v1/jobs/{finished}/result").status_code == 200
        assert run_queued(restarted) == 1
        assert client.get(f"/v1/jobs/{waiting}").json()["status"] == "done"
        listed = client.get("/v1/jobs", params={"ids": f"{waiting},{finished},{'x' * 22}"}).json()
        assert {job["id"] for job in listed} == {waiting, finished}


def test_synchronous_fast_stylize_returns_the_picture(client, photo):
    response = client.post(
        "/v1/stylize", files={"content": ("p.png", photo)}, data={"style": "starry_night", "size": 96}
    )
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    assert max(Image.open(io.BytesIO(response.content)).size) == 96


def test_styles_are_listed_with_their_pictures(client):
    styles = client.get("/v1/styles").json()
    assert "starry_night" in [style["name"] for style in styles]
    for url in (styles[0]["thumbnail_url"], styles[0]["painting_url"]):
        response = client.get(url)
        assert response.status_code == 200 and Image.open(io.BytesIO(response.content)).format == "JPEG"
    for url in ("/v1/styles/starry_night/safetensors", "/v1/styles/..%2F..%2Fjobs/painting"):
        assert client.get(url).status_code == 404


@pytest.mark.parametrize(
    ("fields", "status", "words"),
    [
        ({"style": "no_such_style"}, 400, "unknown style"),
        ({"size": 99999}, 400, "over this server's limit"),
        ({"engine": "gatys", "iterations": 5000}, 400, "iterations 5000"),
        ({"engine": "warp"}, 422, "engine"),
        ({"strength": 2}, 422, "strength"),
        ({"engine": "gatys", "style": ""}, 400, "either a shipped style name or a style image"),
        ({"bit_depth": 12}, 422, "bit_depth"),
    ],
)
def test_bad_parameters_are_refused_with_a_json_error(client, photo, fields, status, words):
    response = submit(client, photo, **fields)
    assert response.status_code == status
    assert words in json.dumps(response.json()["detail"])


def test_uploads_are_checked_by_content_not_by_name(client, not_an_image_path, truncated_path, bomb_path, tmp_path):
    response = submit(client, not_an_image_path.read_bytes())
    assert response.status_code == 415 and "neither an image nor a video" in response.json()["detail"]
    assert submit(client, truncated_path.read_bytes()).status_code == 400
    response = submit(client, bomb_path.read_bytes())
    assert response.status_code == 400 and "pixels" in response.json()["detail"]
    gif = tmp_path / "a.png"
    Image.new("RGB", (64, 64)).save(gif, format="GIF")
    response = submit(client, gif.read_bytes())
    assert response.status_code == 415 and "neither an image nor a video" in response.json()["detail"]
    response = client.post(
        "/v1/jobs",
        files={"content": ("p.png", _png(64)), "style_image": ("s.gif", gif.read_bytes())},
        data={"engine": "gatys"},
    )
    assert response.status_code == 415 and "GIF" in response.json()["detail"]


def test_uploads_over_the_byte_limit_are_refused(tmp_path, photo):
    with local_client(create_app(ServiceSettings(data_dir=tmp_path, max_upload_bytes=1000), collect=False)) as client:
        response = submit(client, photo)
    assert response.status_code == 413
    assert "detail" in response.json()


def test_unknown_and_malformed_job_ids_are_404(client):
    for job_id in ("x" * 22, "short", "..%2F..%2Fjobs.sqlite3"):
        response = client.get(f"/v1/jobs/{job_id}/result")
        assert response.status_code == 404 and response.json()["detail"]
    assert client.get(f"/v1/jobs/{'x' * 22}/preview").status_code == 404


def test_token_is_required_when_set(tmp_path, photo):
    with local_client(create_app(ServiceSettings(data_dir=tmp_path, token="s3cret"), collect=False)) as client:
        assert client.get("/v1/health").json()["token_required"] is True
        assert client.get("/v1/styles").status_code == 401
        assert client.get("/v1/styles", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert client.get("/v1/styles", headers={"Authorization": "Bearer s3cret"}).status_code == 200
        assert client.get("/v1/styles", params={"token": "s3cret"}).status_code == 200
        assert submit(client, photo).status_code == 401


def test_the_web_page_and_api_docs_are_served(client):
    page = client.get("/")
    assert page.status_code == 200 and "stylegram" in page.text and "/static/app.js" in page.text
    assert client.get("/static/app.js").status_code == 200
    schema = client.get("/openapi.json").json()
    assert {"/v1/jobs", "/v1/jobs/{job_id}/events", "/v1/stylize", "/v1/styles"} <= set(schema["paths"])


def submit_batch(client, photos, **fields):
    files = [("contents", (f"photo {index}.png", data)) for index, data in enumerate(photos)]
    files += [("style_images", (name, data)) for name, data in fields.pop("style_images", [])]
    return client.post("/v1/batches", files=files, data={"engine": "fast", "size": 64, **fields})


def test_a_batch_queues_a_job_per_photo_and_style_and_zips_the_results(client, app, photo):
    import zipfile

    response = submit_batch(client, [photo, photo], styles="starry_night,mondrian")
    assert response.status_code == 202, response.text
    batch = response.json()
    assert len(batch["items"]) == 4 and batch["counts"]["queued"] == 4 and batch["result_url"] is None
    assert batch["names"] == ["photo_0_starry_night.png", "photo_0_mondrian.png",
                              "photo_1_starry_night.png", "photo_1_mondrian.png"]  # fmt: skip
    assert client.get(f"/v1/batches/{batch['id']}/result").status_code == 409
    assert run_queued(app) == 4  # separate tasks: any worker may take any item
    done = client.get(f"/v1/batches/{batch['id']}").json()
    assert done["counts"]["done"] == 4 and done["finished"]
    events = client.get(done["events_url"]).text
    assert "event: finished" in events
    archive = zipfile.ZipFile(io.BytesIO(client.get(done["result_url"]).content))
    assert sorted(archive.namelist()) == sorted(done["names"])
    assert max(Image.open(archive.open(done["names"][0])).size) == 64


def test_a_batch_of_paintings_for_a_one_pass_engine(client, app, photo, style_path):
    painting = style_path.read_bytes()
    response = submit_batch(client, [photo], engine="adain", style_images=[("a.png", painting), ("b.png", painting)])
    assert response.status_code == 202, response.text
    assert run_queued(app) == 2
    done = client.get(f"/v1/batches/{response.json()['id']}").json()
    assert done["counts"]["done"] == 2 and done["names"] == ["photo_0_a.png", "photo_0_b.png"]


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({}, "at least one photo and one style"),
        ({"styles": "nonexistent"}, "unknown style"),
        ({"engine": "adain", "styles": "starry_night"}, "takes paintings"),
        ({"styles": ",".join(["starry_night"] * 300)}, "at most 200"),
    ],
)
def test_bad_batches_are_refused_before_anything_is_queued(client, app, photo, fields, words):
    response = submit_batch(client, [photo], **fields)
    assert response.status_code == 400 and words in response.json()["detail"]
    assert app.state.service.queue.huey.pending_count() == 0
    assert client.get("/v1/batches/not-a-batch").status_code == 404


def test_a_batch_takes_a_zip_of_photos_and_refuses_a_bad_one(client, app, photo, settings):
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("holiday/beach.png", photo)
        archive.writestr("holiday/notes.txt", b"not a photo")
        archive.writestr("holiday/.hidden.png", b"resource fork")
        archive.writestr("city.png", photo)
    files = [("photos_zip", ("photos.zip", buffer.getvalue()))]
    response = client.post("/v1/batches", files=files, data={"engine": "fast", "styles": "mondrian", "size": 64})
    assert response.status_code == 202, response.text
    assert response.json()["names"] == ["beach_mondrian.png", "city_mondrian.png"]
    assert run_queued(app) == 2

    def post_zip(data):
        return client.post("/v1/batches", files=[("photos_zip", ("p.zip", data))], data={"styles": "mondrian"})

    assert "not a zip file" in post_zip(b"PK but not really").json()["detail"]
    big = io.BytesIO()
    with zipfile.ZipFile(big, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("bomb.png", bytes(settings.max_upload_bytes + 10))  # compresses to almost nothing
    refused = post_zip(big.getvalue())
    assert refused.status_code == 400 and "over this server's limit" in refused.json()["detail"]


def test_the_photo_engine_makes_a_16_bit_png_on_request(client, app, photo):
    import cv2
    import numpy as np

    reference = (Path(__file__).resolve().parents[2] / "examples" / "images" / "golden_gate.jpg").read_bytes()
    files = {"content": ("photo.png", photo), "style_image": ("reference.jpg", reference)}
    response = client.post("/v1/jobs", files=files, data={"engine": "photo", "size": 96, "bit_depth": 16})
    assert response.status_code == 202, response.text
    run_queued(app)
    job = client.get(f"/v1/jobs/{response.json()['id']}").json()
    assert job["status"] == "done", job["error"]
    picture = cv2.imdecode(np.frombuffer(client.get(job["result_url"]).content, np.uint8), cv2.IMREAD_UNCHANGED)
    assert picture.dtype == np.uint16 and picture.shape[:2] == (72, 96)


def test_a_clip_in_chunks_is_made_by_jobs_of_its_own_and_joined_with_its_sound(client, app, tmp_path):
    clip = write_clip(tmp_path / "clip.mp4", frames=24)
    response = client.post("/v1/videos", files={"content": ("clip.mp4", clip.read_bytes())},
                           data={"style": "starry_night", "size": 64, "chunk_frames": 10})  # fmt: skip
    assert response.status_code == 202, response.text
    batch = response.json()
    assert len(batch["items"]) == 5 and batch["result_url"] is None  # 24 frames, 10 a chunk, 6 shared
    ranges = [(item["params"]["frames_from"], item["params"]["frames_to"]) for item in batch["items"]]
    assert ranges == [(0, 10), (4, 14), (8, 18), (12, 22), (16, 24)]
    assert client.get(f"/v1/batches/{batch['id']}/result").status_code == 409  # not before every chunk is done
    run_queued(app)
    done = client.get(f"/v1/batches/{batch['id']}").json()
    assert done["finished"] and done["counts"]["done"] == 5
    result = client.get(done["result_url"])
    assert result.status_code == 200 and result.headers["content-type"] == "video/mp4"
    stored = tmp_path / "joined.mp4"
    stored.write_bytes(result.content)
    assert probe_video(stored).frames == 24 and probe_video(stored).has_audio and probe_video(stored).width == 64
    picture = client.post("/v1/videos", files={"content": ("p.png", (Path(__file__).parents[2] / "examples"
                          / "images" / "tubingen.jpg").read_bytes())}, data={"style": "starry_night"})  # fmt: skip
    assert picture.status_code == 400 and "takes a clip" in picture.text


def test_a_reference_photo_too_small_is_refused_before_it_is_queued(client, app, photo):
    small = io.BytesIO()
    Image.new("RGB", (40, 30), "orange").save(small, format="PNG")
    files = {"content": ("photo.png", photo), "style_image": ("tiny.png", small.getvalue())}
    response = client.post("/v1/jobs", files=files, data={"engine": "photo", "size": 96})
    assert response.status_code == 400 and "needs at least 64 px a side" in response.text
    assert run_queued(app) == 0


def test_regions_are_drawn_for_the_page_and_painted_style_by_style_or_kept(client, app, tmp_path):
    photo = io.BytesIO()
    Image.open(EXAMPLES / "tubingen.jpg").convert("RGB").resize((128, 96)).save(photo, format="PNG")
    photo = photo.getvalue()
    drawn = client.post("/v1/regions", files={"content": ("photo.png", photo)}, data={"count": 2})
    assert drawn.status_code == 200 and drawn.headers["content-type"] == "image/png"
    label_map = Image.open(io.BytesIO(drawn.content)).convert("RGB")
    assert label_map.size == (128, 96)
    top, bottom = (f"#{r:02x}{g:02x}{b:02x}" for _, (r, g, b) in sorted(label_map.getcolors(), key=lambda c: -c[0]))
    fields = {"engine": "adain", "size": 96, "region_styles": f"{top}=starry_night,{bottom}=keep"}
    files = {"content": ("photo.png", photo), "region_map": ("regions.png", drawn.content)}
    response = client.post("/v1/jobs", files=files, data=fields)
    assert response.status_code == 202, response.text
    run_queued(app)
    job = client.get(f"/v1/jobs/{response.json()['id']}").json()
    assert job["status"] == "done", job["error"]
    picture = image_to_tensor(Image.open(io.BytesIO(client.get(job["result_url"]).content)).convert("RGB"))
    original = image_to_tensor(Image.open(io.BytesIO(photo)).resize((96, 72)))
    kept = image_to_tensor(label_map.resize((96, 72), Image.Resampling.NEAREST)).mul(255).round()
    kept = kept.eq(torch.tensor(ImageColor.getrgb(bottom)).view(1, 3, 1, 1)).all(dim=1, keepdim=True)
    difference = (picture - original).abs().mean(dim=1, keepdim=True)
    assert difference[kept].mean() < 0.03 < difference[~kept].mean()
    # A map from the page whose colours are not the ones named, and other bad region fields: 4xx, nothing queued.
    for data, words in (
        ({**fields, "region_styles": f"#123456=starry_night,{bottom}=keep"}, "#123456 is not in the region map"),
        ({**fields, "region_styles": f"{top}=starry_night"}, "has no style in region_styles"),
        ({**fields, "region_styles": f"{top}=keep,{bottom}=keep"}, "keeps every region"),
        ({**fields, "region_styles": f"{top}=nope,{bottom}=keep"}, "unknown style 'nope'"),
    ):
        refused = client.post("/v1/jobs", files=files, data=data)
        assert refused.status_code == 400 and words in refused.json()["detail"], refused.text
    semantic = {"engine": "adain", "size": 96, "style": "starry_night", "regions": "semantic:12", "match_regions": True}
    refused = client.post("/v1/jobs", files={"content": ("photo.png", photo)}, data=semantic)
    assert refused.status_code == 400 and "must be 2 to 8" in refused.json()["detail"]
    flat = io.BytesIO()
    Image.new("RGB", (128, 96), "grey").save(flat, format="PNG")
    refused = client.post("/v1/regions", files={"content": ("flat.png", flat.getvalue())}, data={"count": 3})
    assert refused.status_code == 400 and "too uniform" in refused.json()["detail"]
