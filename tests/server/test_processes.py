"""Faults with real processes on loopback: a worker killed with SIGKILL mid-job, a server crash, restarts, and
the Redis queue with a worker that shares no disk with the server."""

import io
import os
import signal
import subprocess
import sys

import pytest
from PIL import Image

from stylegram.server.process import die_with_parent

from .conftest import serve

#: Long enough (≈5 s on an idle 2-core machine) to be killed in the middle.
SLOW_JOB = {"engine": "gatys", "size": 96, "iterations": 150}

#: Each test fails with a message after this long (also on a slow or busy machine); its fixtures then stop the
#: servers, workers and Redis it started.
pytestmark = pytest.mark.timeout(300)


#: Short, so a killed worker's job is retried soon, yet long enough that a live worker's heartbeat, late on a
#: machine busy with the rest of the suite, is not taken for silence (3 s once led to a third attempt).
STALE_AFTER = "8"


def has_picture(served, job: dict, size: int) -> bool:
    response = served.client.get(job["result_url"])
    return response.status_code == 200 and max(Image.open(io.BytesIO(response.content)).size) == size


def test_a_worker_killed_mid_job_leads_to_a_retry_that_finishes(tmp_path, content_path):
    with serve(tmp_path / "data", "--workers", "1", "--stale-after", STALE_AFTER) as served:
        job = served.submit(content_path.read_bytes(), **SLOW_JOB)
        running = served.wait_for(job["id"], lambda job: job["status"] == "running" and job["progress"]["step"] >= 3)
        os.kill(int(running["worker"].rsplit(":", 1)[1]), signal.SIGKILL)
        done = served.wait_for(job["id"], lambda job: job["status"] in ("done", "failed"), timeout=240)
        assert done["status"] == "done", done["error"]
        assert done["attempt"] == 2 and done["worker"] != running["worker"]
        assert has_picture(served, done, 96)


def test_jobs_survive_restarts_and_a_crash(tmp_path, content_path):
    data, photo = tmp_path / "data", content_path.read_bytes()
    with serve(data, "--workers", "0") as served:  # accepts jobs, runs none
        queued = [served.submit(photo, size=size)["id"] for size in (64, 72)]
    with serve(data, "--workers", "1", "--stale-after", STALE_AFTER, kill=True) as served:
        for job_id in queued:
            served.wait_for(job_id, lambda job: job["status"] == "done")
        slow = served.submit(photo, **SLOW_JOB)["id"]
        served.wait_for(slow, lambda job: job["status"] == "running" and job["progress"]["step"] >= 3)
    # The server and its worker were killed (SIGKILL) mid-job: the next server retries the job.
    with serve(data, "--workers", "1", "--stale-after", STALE_AFTER) as served:
        done = served.wait_for(slow, lambda job: job["status"] in ("done", "failed"), timeout=240)
        assert done["status"] == "done" and done["attempt"] == 2, done
        for job_id, size in zip(queued, (64, 72), strict=True):
            assert has_picture(served, served.job(job_id), size)


def test_redis_queue_with_a_worker_sharing_no_disk_with_the_server(tmp_path, content_path, style_path, redis_url):
    worker_folder = tmp_path / "elsewhere"
    worker_folder.mkdir()
    worker = subprocess.Popen(
        [sys.executable, "-m", "stylegram", "worker", "--queue", redis_url],
        cwd=worker_folder,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=die_with_parent,
    )
    try:
        with serve(tmp_path / "data", "--workers", "0", "--queue", redis_url) as served:
            assert served.client.get("/v1/health").json()["queue"] == redis_url
            fast = served.submit(content_path.read_bytes())["id"]
            response = served.client.post(
                "/v1/jobs",
                files={
                    "content": ("p.png", content_path.read_bytes()),
                    "style_image": ("s.png", style_path.read_bytes()),
                },
                data={"engine": "gatys", "size": 64, "iterations": 10},
            )
            optimised = response.json()["id"]
            for job_id in (fast, optimised):
                done = served.wait_for(job_id, lambda job: job["status"] in ("done", "failed"))
                assert done["status"] == "done", done["error"]
                assert done["worker"].endswith(f":{worker.pid}")
                assert has_picture(served, done, 64)
        assert not any(worker_folder.iterdir())
    finally:
        worker.terminate()
        worker.wait(timeout=30)


def test_jobs_queued_when_redis_restarted_empty_are_queued_again(tmp_path, content_path, redis):
    photo = content_path.read_bytes()
    with serve(tmp_path / "data", "--workers", "0", "--queue", redis.url, "--stale-after", "2") as served:
        queued = [served.submit(photo, size=size)["id"] for size in (64, 72, 80)]
        redis.kill()
        response = served.client.post(
            "/v1/jobs", files={"content": ("p.png", photo)}, data={"style": "starry_night", "size": 64}
        )
        assert response.status_code == 503 and "try again later" in response.json()["detail"], response.text
        redis.start()  # empty: the three tasks are gone
        worker = subprocess.Popen(
            [sys.executable, "-m", "stylegram", "worker", "--queue", redis.url],
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=die_with_parent,
        )
        try:
            for job_id in queued:
                done = served.wait_for(job_id, lambda job: job["status"] in ("done", "failed"))
                assert done["status"] == "done" and done["attempt"] == 2, done
        finally:
            worker.terminate()
            worker.wait(timeout=30)
        log = served.server.log.read_text()
        assert log.count("Traceback") == 0, log
