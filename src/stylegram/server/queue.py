"""The job queue: Huey, on SQLite in the data directory (no other server needed) or on Redis (workers on any
machine that reaches it). One task, ``stylegram.job``, runs :func:`stylegram.server.jobs.run_job`."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from huey import RedisHuey, SqliteHuey
from huey.api import Huey
from redis.exceptions import RedisError

from stylegram.errors import InputError, StylegramError
from stylegram.server.jobs import run_job

TASK_NAME = "stylegram.job"
#: What the queue's store raises when it cannot be reached or written (Redis down, SQLite's disk full or locked).
STORE_ERRORS = (RedisError, sqlite3.Error, OSError)


class QueueUnavailable(StylegramError):
    """The queue could not take a job (HTTP 503: worth trying again later)."""


class JobQueue:
    """Enqueue jobs, revoke them, and reach the key-value store workers report through."""

    def __init__(self, url: str | None, data_dir: Path | None = None) -> None:
        self.url = url
        self.huey = open_huey(url, data_dir)
        huey = self.huey

        @huey.task(name=TASK_NAME)
        def job(job_id: str, attempt: int, params: dict[str, Any], inputs: dict[str, bytes]) -> None:
            run_job(huey, job_id, attempt, params, inputs)

        self._job = job

    def enqueue(self, job_id: str, attempt: int, params: dict[str, Any], inputs: dict[str, bytes]) -> str:
        """Queue one attempt of a job; returns the task id.

        Raises:
            QueueUnavailable: the queue's store cannot be reached or written.
        """
        task = self._job.s(job_id, attempt, params, inputs)
        try:
            self.huey.enqueue(task)
        except STORE_ERRORS as error:
            raise QueueUnavailable(f"the job queue ({self.describe()}) cannot take jobs now: {error}") from None
        return task.id

    def pending_count(self) -> int:
        """How many tasks wait in the queue (cancelled ones too, until a worker drops them)."""
        return self.huey.pending_count()

    def queued_attempts(self) -> set[tuple[str, int]]:
        """The (job id, attempt) of every task waiting in the queue."""
        return {(task.args[0], task.args[1]) for task in self.huey.pending()}

    def revoke(self, task_id: str) -> None:
        self.huey.revoke_by_id(task_id)

    def describe(self) -> str:
        return self.url or "sqlite (data directory)"


def open_huey(url: str | None, data_dir: Path | None) -> Huey:
    """Huey on Redis for a ``redis://``/``rediss://``/``unix://`` URL, else on SQLite in ``data_dir``.

    Raises:
        InputError: a URL of another kind, or SQLite without a data directory.
    """
    if url:
        if not url.startswith(("redis://", "rediss://", "unix://")):
            raise InputError(f"unsupported queue URL {url!r}; expected redis://host:port/db")
        return RedisHuey("stylegram", url=url, results=False)
    if data_dir is None:
        raise InputError("a worker without a Redis queue URL needs the server's data directory (--data)")
    Path(data_dir).mkdir(parents=True, exist_ok=True)
    return SqliteHuey("stylegram", filename=str(Path(data_dir) / "queue.sqlite3"), results=False)
