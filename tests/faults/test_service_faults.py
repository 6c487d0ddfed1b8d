"""The faults a careless or hostile user of the service found (issue 18), in process: lost tasks queued again,
queue and disk outages answered as JSON 503 and logged once, hostile hosts and origins, upload limits, options
that cannot work."""

import errno
import io
import logging
import socket
import sqlite3
import threading
import time

import pytest
from PIL import Image
from redis.exceptions import ConnectionError as RedisConnectionError
from server.test_app import local_client, run_queued, submit

from stylegram.cli.main import main
from stylegram.server import ServiceSettings, create_app
from stylegram.server import task as task_module
from stylegram.server.records import Job, new_job_id
from stylegram.server.schemas import JobParams
from stylegram.server.task import Reporter
from stylegram.server.uploads import check_image_bytes


def one_json_error(response, status: int, *words: str) -> str:
    assert response.status_code == status, response.text
    detail = response.json()["detail"]
    assert all(word in detail for word in words), detail
    return detail


# 3, 4. Queued jobs whose task is gone.


def test_a_queued_job_whose_task_left_the_queue_is_queued_again_and_finishes(client, app, photo):
    job = submit(client, photo).json()
    service = app.state.service
    assert service.queue.huey.dequeue() is not None  # a worker took the task and was killed before it reported
    service.collector.collect_once()
    assert client.get(f"/v1/jobs/{job['id']}").json()["status"] == "queued"  # not yet: it may be starting
    time.sleep(0.3)
    service.collector.collect_once()
    requeued = client.get(f"/v1/jobs/{job['id']}").json()
    assert requeued["status"] == "queued" and requeued["attempt"] == 2
    assert run_queued(app) == 1
    done = client.get(f"/v1/jobs/{job['id']}").json()
    assert done["status"] == "done" and done["attempt"] == 2, done


def test_a_queued_job_still_in_the_queue_is_left_alone(client, app, photo, monkeypatch):
    job = submit(client, photo).json()
    unread = "the queue's count shows nothing is lost; its tasks (and uploads) need not be read"
    monkeypatch.setattr(app.state.service.queue, "queued_attempts", lambda: pytest.fail(unread))
    for _ in range(3):
        time.sleep(0.3)
        app.state.service.collector.collect_once()
    assert client.get(f"/v1/jobs/{job['id']}").json()["attempt"] == 1
    assert run_queued(app) == 1


def test_a_record_left_by_a_server_killed_before_queueing_is_queued(app, photo):
    service = app.state.service
    params = JobParams(style="starry_night", size=64).model_dump()
    service.store.add(Job(id=new_job_id(), status="queued", params=params), {"content": photo})  # then killed
    (job,) = service.store.active()
    service.collector.collect_once()  # the next server meets it
    time.sleep(0.3)
    service.collector.collect_once()
    assert run_queued(app) == 1
    assert service.store.get(job.id).status == "done"


@pytest.mark.parametrize(
    "error", [RedisConnectionError("Connection refused"), sqlite3.OperationalError("database or disk is full")]
)
def test_a_submission_the_queue_cannot_take_answers_503_and_leaves_no_record(client, app, photo, error):
    service = app.state.service

    def refuse(task):
        raise error

    service.queue.huey.enqueue = refuse
    one_json_error(submit(client, photo), 503, "cannot take jobs now", "try again later")
    assert service.store.active() == [] and not any((service.store.data_dir / "jobs").iterdir())


def test_a_worker_keeps_running_through_a_store_outage_and_hands_in_its_outcome_after(app, caplog, monkeypatch):
    huey = app.state.service.queue.huey
    real_put, down = huey.put, threading.Event()
    down.set()

    def put(key, value):
        if down.is_set():
            raise RedisConnectionError("Connection refused")
        return real_put(key, value)

    monkeypatch.setattr(huey, "put", put)
    monkeypatch.setattr(task_module, "OUTCOME_PATIENCE_S", 10.0)
    reporter = Reporter(huey, "a" * 22, 1)
    with caplog.at_level(logging.ERROR, logger="stylegram.server"):
        for step in range(5):  # progress goes on, dropped, while the store is down
            reporter.progress(task_module.ProgressEvent(step + 1, 5, "optimize", {}, 0.1))
        threading.Timer(1.5, down.clear).start()
        reporter.finish("done", result=b"png")
    assert huey.get(task_module.report_key("a" * 22, 1, "outcome"))["result"] == b"png"
    assert len([record for record in caplog.records if "failed" in record.getMessage()]) == 1


def test_a_collector_outage_is_logged_once(settings, monkeypatch, caplog):
    app = create_app(settings, collect=True)

    def broken():
        raise sqlite3.OperationalError("disk I/O error")

    with caplog.at_level(logging.INFO, logger="stylegram.server"), local_client(app):
        monkeypatch.setattr(app.state.service.store, "active", broken)
        time.sleep(1.5)  # seven passes of the collector
        monkeypatch.undo()
        time.sleep(0.5)
    messages = [record.getMessage() for record in caplog.records]
    assert len([message for message in messages if "disk I/O error" in message]) == 1, messages
    assert any("works again" in message for message in messages) and not caplog.records[0].exc_info


# 5. Uploads decoded off the event loop.


def test_uploads_are_decoded_on_the_upload_threads(client, photo, monkeypatch):
    threads = []
    real = check_image_bytes

    def spy(*args, **kwargs):
        threads.append(threading.current_thread().name)
        return real(*args, **kwargs)

    monkeypatch.setattr("stylegram.server.app.check_image_bytes", spy)
    assert submit(client, photo).status_code == 202
    assert threads and all(name.startswith("stylegram-upload") for name in threads)


# 6. Host and Origin.


def test_a_foreign_host_header_is_refused(client):
    one_json_error(client.get("/v1/health", headers={"host": "evil.example"}), 400, "evil.example")
    assert client.get("/v1/health", headers={"host": "127.0.0.1:8000"}).status_code == 200
    assert client.get("/v1/health", headers={"host": "[::1]:8000"}).status_code == 200


@pytest.mark.parametrize("origin", ["http://evil.example", "null", "http://localhost:9999"])
def test_a_job_posted_by_a_page_of_another_origin_is_refused(client, app, photo, origin):
    response = client.post(
        "/v1/jobs", files={"content": ("p.png", photo)}, data={"style": "starry_night"}, headers={"origin": origin}
    )
    one_json_error(response, 403, origin)
    assert app.state.service.store.active() == []


def test_same_origin_and_allowed_origins_may_post(tmp_path, photo):
    settings = ServiceSettings(data_dir=tmp_path, allowed_origins=("http://editor.local:3000",))
    with local_client(create_app(settings, collect=False)) as client:
        for origin in ("http://localhost", "http://editor.local:3000"):
            response = client.post(
                "/v1/jobs",
                files={"content": ("p.png", photo)},
                data={"style": "starry_night"},
                headers={"origin": origin},
            )
            assert response.status_code == 202, response.text


def test_any_host_when_configured(tmp_path):
    with local_client(create_app(ServiceSettings(data_dir=tmp_path, allowed_hosts=("*",)), collect=False)) as client:
        assert client.get("/v1/health", headers={"host": "studio.lan"}).status_code == 200


# 7. Disk faults.


def test_a_full_disk_answers_503_and_finished_jobs_stay_readable(client, app, photo, monkeypatch, caplog):
    done = submit(client, photo).json()
    run_queued(app)

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(app.state.service.store, "add", full)
    with caplog.at_level(logging.ERROR, logger="stylegram.server"):
        for _ in range(3):
            one_json_error(submit(client, photo), 503, "No space left on device")
    assert len([record for record in caplog.records if "No space left" in record.getMessage()]) == 1
    assert client.get(f"/v1/jobs/{done['id']}").json()["status"] == "done"
    assert client.get(done["result_url"] if done["result_url"] else f"/v1/jobs/{done['id']}/result").status_code == 200


def test_an_unreadable_database_answers_503(client, app, photo, monkeypatch):
    job = submit(client, photo).json()

    def broken(job_id):
        raise sqlite3.OperationalError("unable to open database file")

    monkeypatch.setattr(app.state.service.store, "get", broken)
    one_json_error(client.get(f"/v1/jobs/{job['id']}"), 503, "unable to open database file")


# 9. Upload sizes and formats.


def test_a_style_image_over_the_byte_limit_is_too_large_not_damaged(tmp_path, photo, style_path):
    settings = ServiceSettings(data_dir=tmp_path, max_upload_bytes=len(photo) + 10)
    big = io.BytesIO()
    Image.effect_noise((400, 400), 80).convert("RGB").save(big, format="PNG")
    with local_client(create_app(settings, collect=False)) as client:
        response = client.post(
            "/v1/jobs",
            files={"content": ("p.png", photo), "style_image": ("s.png", big.getvalue())},
            data={"engine": "adain"},
        )
    one_json_error(response, 413, "style image", "limit")


def test_mpo_photos_are_taken_by_the_service_and_the_cli(client, app, content_path, style_path, tmp_path):
    mpo = tmp_path / "camera.mpo"
    first = Image.open(content_path)
    first.save(mpo, format="MPO", save_all=True, append_images=[first.transpose(Image.Transpose.FLIP_LEFT_RIGHT)])
    assert Image.open(mpo).format == "MPO"
    assert submit(client, mpo.read_bytes()).status_code == 202
    assert main(["transfer", str(mpo), str(style_path), "--engine", "adain", "-o", str(tmp_path / "o.png"), "-q"]) == 0


# 10. Thin uploads.


def test_a_thin_photo_is_refused_at_submission(client, app):
    buffer = io.BytesIO()
    Image.new("RGB", (4000, 2)).save(buffer, format="PNG")
    one_json_error(submit(client, buffer.getvalue(), size=512), 400, "4000x2", "at least")
    assert app.state.service.store.active() == []


# 8. Start-up options.


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["serve", "--stale-after", "-1"], "--stale-after"),
        (["serve", "--stale-after", "nan"], "--stale-after"),
        (["worker", "--threads", "0"], "--threads"),
        (["serve", "--data", "{file}"], "is a file"),
        (["serve", "--data", "{file}/inside"], "cannot write to the data directory"),
        (["worker", "--data", "{file}"], "is a file"),
    ],
)
def test_service_options_that_cannot_work_are_refused(capsys, tmp_path, argv, words):
    file = tmp_path / "a-file"
    file.write_text("not a folder")
    with socket.socket() as taken:  # a server that wrongly got past the checks could not start and run on
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = ["--port", str(taken.getsockname()[1])] if argv[0] == "serve" else []
        assert main([item.format(file=file) for item in argv] + port) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("stylegram: error:") and len(err.splitlines()) == 1 and words in err, err
