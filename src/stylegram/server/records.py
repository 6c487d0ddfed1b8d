"""Job records: a job's parameters, status and progress in ``<data>/jobs.sqlite3``, its files in
``<data>/jobs/<id>/`` (the uploads, ``preview.jpg``, ``result.png`` or ``result.mp4``).

Only the server reads and writes them. Workers never touch this directory: a job's inputs travel in the queued
task, and what a worker reports goes through the queue (:mod:`stylegram.server.task`); the server's
:class:`~stylegram.server.collector.Collector` moves the reports into the records.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stylegram.io.files import atomic_path

#: Job states; the last three are final.
QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"
FINAL_STATES = (DONE, FAILED, CANCELLED)

_JOB_ID = re.compile(r"[A-Za-z0-9_-]{22}")

#: Input images are kept in the job's folder as ``input-<name>`` (``content``, ``style``), without a suffix: their
#: format is known from their content.
INPUT_PREFIX = "input-"


def new_job_id() -> str:
    """128 random bits, URL-safe: ids that cannot be guessed or enumerated."""
    return secrets.token_urlsafe(16)


def is_job_id(text: str) -> bool:
    return bool(_JOB_ID.fullmatch(text))


@dataclass
class Job:
    """A job's record.

    Attributes:
        id: the job's secret id.
        status: ``queued``, ``running``, ``done``, ``failed`` or ``cancelled``.
        params: what was asked (engine, style, size, …), as given to the worker.
        attempt: 1 for the first run, one more for each retry after a worker was lost.
        progress: the latest progress event (step, total, stage, losses, elapsed_s).
        error: why it failed.
        preview_step: the step of the latest preview image (0: none yet).
        created / updated: Unix times.
        task_id: the queued task's id (to revoke it on cancel).
        run: what the engine chose (precision, sizes…), from the result.
        worker: ``host:pid`` of the worker running (or that ran) the current attempt.
    """

    id: str
    status: str
    params: dict[str, Any]
    attempt: int = 1
    progress: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    preview_step: int = 0
    created: float = 0.0
    updated: float = 0.0
    task_id: str | None = None
    run: dict[str, Any] = field(default_factory=dict)
    worker: str | None = None


_COLUMNS = (
    "id",
    "status",
    "params",
    "attempt",
    "progress",
    "error",
    "preview_step",
    "created",
    "updated",
    "task_id",
    "run",
    "worker",
)
_JSON_COLUMNS = ("params", "progress", "run")


class JobStore:
    """The job records and files in a data directory; safe to use from several threads and processes."""

    def __init__(self, data_dir: str | os.PathLike) -> None:
        self.data_dir = Path(data_dir)
        (self.data_dir / "jobs").mkdir(parents=True, exist_ok=True)
        self._database = self.data_dir / "jobs.sqlite3"
        with self._connect() as connection:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute(
                "CREATE TABLE IF NOT EXISTS jobs (id TEXT PRIMARY KEY, status TEXT, params TEXT, attempt INTEGER,"
                " progress TEXT, error TEXT, preview_step INTEGER, created REAL, updated REAL, task_id TEXT,"
                " run TEXT, worker TEXT)"
            )

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        connection = sqlite3.connect(self._database, timeout=30)
        try:
            with connection:
                yield connection
        finally:
            connection.close()

    def folder(self, job_id: str) -> Path:
        """The job's own directory; ``job_id`` is checked first, so no other path can be reached through it."""
        if not is_job_id(job_id):
            raise KeyError(job_id)
        return self.data_dir / "jobs" / job_id

    def add(self, job: Job, inputs: dict[str, bytes]) -> None:
        """Record a new job and write its input images (atomically, before the record exists)."""
        folder = self.folder(job.id)
        folder.mkdir()
        for name, data in inputs.items():
            write_atomically(folder / f"{INPUT_PREFIX}{name}", data)
        job.created = job.updated = time.time()
        values = [json.dumps(getattr(job, name)) if name in _JSON_COLUMNS else getattr(job, name) for name in _COLUMNS]
        with self._connect() as connection:
            connection.execute(f"INSERT INTO jobs VALUES ({', '.join('?' * len(_COLUMNS))})", values)

    def remove(self, job_id: str) -> None:
        """Forget a job entirely, record and files (one that could not be queued)."""
        with self._connect() as connection:
            connection.execute("DELETE FROM jobs WHERE id = ?", (job_id,))
        shutil.rmtree(self.folder(job_id), ignore_errors=True)

    def inputs(self, job_id: str) -> dict[str, bytes]:
        """The job's input images as uploaded, by name (``content``, ``style``)."""
        files = self.folder(job_id).glob(f"{INPUT_PREFIX}*")
        return {path.name.removeprefix(INPUT_PREFIX): path.read_bytes() for path in files}

    def get(self, job_id: str) -> Job | None:
        if not is_job_id(job_id):
            return None
        with self._connect() as connection:
            row = connection.execute(f"SELECT {', '.join(_COLUMNS)} FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return _job_from_row(row) if row else None

    def active(self) -> list[Job]:
        """Jobs that are queued or running, oldest first."""
        with self._connect() as connection:
            rows = connection.execute(
                f"SELECT {', '.join(_COLUMNS)} FROM jobs WHERE status IN (?, ?) ORDER BY created", (QUEUED, RUNNING)
            ).fetchall()
        return [_job_from_row(row) for row in rows]

    def update(self, job_id: str, only_if_active: bool = True, **changes: Any) -> bool:
        """Change fields of a job; by default only while it is not final (a late report cannot undo a cancel).

        Returns:
            Whether the record was changed.
        """
        assignments = ", ".join(f"{name} = ?" for name in changes)
        values = [json.dumps(value) if name in _JSON_COLUMNS else value for name, value in changes.items()]
        condition = f" AND status IN ('{QUEUED}', '{RUNNING}')" if only_if_active else ""
        with self._connect() as connection:
            cursor = connection.execute(
                f"UPDATE jobs SET {assignments}, updated = ? WHERE id = ?{condition}", [*values, time.time(), job_id]
            )
        return cursor.rowcount == 1


def _job_from_row(row: tuple) -> Job:
    values = dict(zip(_COLUMNS, row, strict=True))
    for name in _JSON_COLUMNS:
        values[name] = json.loads(values[name]) if values[name] else {}
    return Job(**values)


def write_atomically(path: Path, data: bytes) -> None:
    with atomic_path(path) as temporary, open(temporary, "wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())


#: What a job makes, by kind: the result's file name and media type.
RESULTS = {"image": ("result.png", "image/png"), "video": ("result.mp4", "video/mp4")}
