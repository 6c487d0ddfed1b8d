"""Real service processes on loopback: ``stylegram serve`` (and ``stylegram worker``, ``redis-server``) started
by the tests, for the fault, queue and browser tests; and the app under a test client."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx2
import pytest
from fastapi.testclient import TestClient

from stylegram.server import create_app
from stylegram.server.process import RedisServer, server_process


def local_client(app) -> TestClient:
    """A client that calls the app as a browser on this machine would: by the name ``localhost``."""
    return TestClient(app, base_url="http://localhost")


@pytest.fixture
def app(settings):
    """The app of the module's ``settings``, its collector left to the test."""
    return create_app(settings, collect=False)


@pytest.fixture
def client(app):
    with local_client(app) as client:
        yield client


class Served:
    """A running ``stylegram serve`` (see :func:`stylegram.server.process.server_process`) and a client for it."""

    def __init__(self, server) -> None:
        self.server, self.url = server, server.url
        self.client = httpx2.Client(base_url=server.url, timeout=30)

    def submit(self, photo: bytes, **fields) -> dict:
        fields = {"engine": "fast", "style": "starry_night", "size": 64, **fields}
        response = self.client.post("/v1/jobs", files={"content": ("photo.png", photo)}, data=fields)
        assert response.status_code == 202, response.text
        return response.json()

    def job(self, job_id: str) -> dict:
        return self.client.get(f"/v1/jobs/{job_id}").json()

    def wait_for(self, job_id: str, condition, timeout: float = 120) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.job(job_id)
            if condition(job):
                return job
            time.sleep(0.1)
        log = self.server.log.read_text()[-3000:]
        raise AssertionError(f"job {job_id} did not get there in {timeout} s: {job}\n{log}")


@contextmanager
def serve(data: Path, *options: str, kill: bool = False) -> Iterator[Served]:
    """``stylegram serve`` until the block ends, then stopped, or killed with its workers when ``kill`` is set."""
    with server_process(data, *options) as server:
        server.crash = kill
        served = Served(server)
        try:
            yield served
        finally:
            served.client.close()


@pytest.fixture
def redis(tmp_path) -> Iterator[RedisServer]:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (Debian package redis-server; make system-deps installs it)")
    server = RedisServer(binary, tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture
def redis_url(redis) -> str:
    return redis.url
