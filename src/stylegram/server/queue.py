"""The job queue: Huey, on SQLite in the data directory (no other server needed) or on Redis (workers on any
machine that reaches it). One task, ``stylegram.job``, runs :func:`stylegram.server.task.run_job`; what it reports,
and a job's cancel flag, live in the queue's key-value store. Nothing else in the server touches Huey."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from huey import RedisHuey, SqliteHuey
from huey.api import Huey
from redis.exceptions import RedisError

from stylegram.errors import InputError, StylegramError
from stylegram.server.task import cancel_key, report_key, run_job

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

    def cancel(self, job_id: str, task_id: str | None) -> None:
        """Stop a job: its queued task is dropped, and a worker running it sees the flag at its next step."""
        self.huey.put(cancel_key(job_id), True)
        if task_id:
            self.revoke(task_id)

    def report(self, job_id: str, attempt: int, what: str, peek: bool = False) -> Any:
        """What attempt ``attempt`` of a job last reported as ``what`` (``beat``, ``progress``, ``preview``,
        ``outcome``), taken out of the store unless ``peek``; None: nothing yet."""
        return self.huey.get(report_key(job_id, attempt, what), peek=peek)

    def forget_reports(self, job_id: str, attempt: int) -> None:
        for what in ("beat", "progress", "preview", "outcome"):
            self.huey.delete(report_key(job_id, attempt, what))

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
