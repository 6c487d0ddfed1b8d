"""Jobs: their records in the data directory, and the run of one job on a worker.

A job's parameters, status and progress live in ``<data>/jobs.sqlite3``; its files in ``<data>/jobs/<id>/``
(the uploads, ``preview.jpg``, ``result.png`` or ``result.mp4``). Workers never touch that directory: a job's
inputs travel in the queued task, and everything a worker reports (progress, a heartbeat, previews, the
finished result) goes through the queue's key-value store under keys of that job and attempt. That is what lets
``stylegram worker`` run on another machine with nothing but the Redis URL; the server's
:class:`~stylegram.server.collector.Collector` moves the reports into the records.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import secrets
import shutil
import socket
import sqlite3
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
from huey import Huey
from PIL import Image

from stylegram.engines import ProgressEvent
from stylegram.errors import InputError, StylegramError
from stylegram.io.files import atomic_path
from stylegram.io.image import encode_image
from stylegram.io.video import VideoInfo, probe_video
from stylegram.server.faults import FaultLog

logger = logging.getLogger("stylegram.server")

#: Job states; the last three are final.
QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"
FINAL_STATES = (DONE, FAILED, CANCELLED)

_JOB_ID = re.compile(r"[A-Za-z0-9_-]{22}")

#: Input images are kept in the job's folder as ``input-<name>`` (``content``, ``style``), without a suffix: their
#: format is known from their content.
INPUT_PREFIX = "input-"

#: How often a worker says it is alive while a job runs.
HEARTBEAT_S = 1.0
#: JPEG quality of the optimisation engine's previews: small enough to stream every few steps.
PREVIEW_QUALITY = 88
#: How long a worker keeps trying to hand in a finished job's outcome while the queue's store is unreachable;
#: after that the server, which heard no heartbeat meanwhile, will have given the job to another worker.
OUTCOME_PATIENCE_S = 120.0


def new_job_id() -> str:
    """128 random bits, URL-safe: ids that cannot be guessed or enumerated."""
    return secrets.token_urlsafe(16)


def is_job_id(text: str) -> bool:
    return bool(_JOB_ID.fullmatch(text))


def report_key(job_id: str, attempt: int, what: str) -> str:
    """The queue store key under which attempt ``attempt`` of a job reports ``what``."""
    return f"stylegram:{job_id}:{attempt}:{what}"


def cancel_key(job_id: str) -> str:
    return f"stylegram:{job_id}:cancel"


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


class JobCancelled(Exception):
    """Raised inside a running job when its cancel flag is seen."""


class Reporter:
    """A worker's side of one attempt of a job: heartbeat, progress, previews and the outcome, all put in the
    queue's key-value store for the server to collect."""

    def __init__(self, huey: Huey, job_id: str, attempt: int) -> None:
        self.huey, self.job_id, self.attempt = huey, job_id, attempt
        self._stop = threading.Event()
        self._beats = 0
        self.worker = f"{socket.gethostname()}:{os.getpid()}"
        self.fault = FaultLog(f"reporting on job {job_id}")

    def _put(self, what: str, value: Any) -> bool:
        """Put a report; while the store is unreachable the job goes on and the report is dropped (the next one
        replaces it), told once. Returns whether it was put."""
        try:
            self.huey.put(report_key(self.job_id, self.attempt, what), value)
        except Exception as error:  # Redis down, SQLite locked or its disk full: the same for the job
            self.fault.failed(error)
            return False
        self.fault.recovered()
        return True

    def __enter__(self) -> Reporter:
        self._beat()
        threading.Thread(target=self._beat_until_stopped, daemon=True, name="stylegram-heartbeat").start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()

    def _beat(self) -> None:
        self._beats += 1
        self._put("beat", {"count": self._beats, "worker": self.worker})

    def _beat_until_stopped(self) -> None:
        while not self._stop.wait(HEARTBEAT_S):
            self._beat()

    def progress(self, event: ProgressEvent) -> None:
        """The engine's progress callback: report it, and stop the job if it was cancelled."""
        if self._cancelled():
            raise JobCancelled
        self._put(
            "progress",
            {
                "step": event.step,
                "total": event.total,
                "stage": event.stage,
                "elapsed_s": round(event.elapsed_s, 3),
                "losses": {name: float(value) for name, value in event.losses.items()},
            },
        )
        if event.preview is not None:
            self._put(
                "preview", {"step": event.step, "jpeg": encode_image(event.preview, "JPEG", quality=PREVIEW_QUALITY)}
            )

    def _cancelled(self) -> bool:
        try:
            return bool(self.huey.get(cancel_key(self.job_id), peek=True))
        except Exception as error:  # unreachable: not known to be cancelled, go on
            self.fault.failed(error)
            return False

    def finish(
        self, status: str, result: bytes | None = None, run: dict | None = None, error: str | None = None
    ) -> None:
        """Hand in the outcome, trying for up to ``OUTCOME_PATIENCE_S`` while the store is unreachable."""
        outcome = {"status": status, "error": error, "run": run or {}, "result": result}
        deadline = time.monotonic() + OUTCOME_PATIENCE_S
        while not self._put("outcome", outcome):
            if time.monotonic() > deadline:
                logger.error("job %s: gave up handing in its outcome; the server will run it again", self.job_id)
                return
            time.sleep(1.0)


def run_job(huey: Huey, job_id: str, attempt: int, params: dict[str, Any], inputs: dict[str, bytes]) -> None:
    """Make one job's result on this worker and report the outcome (never raises: every failure is reported)."""
    from stylegram.server.requests import stylize_job  # here: requests imports this module

    with Reporter(huey, job_id, attempt) as reporter:
        try:
            result, run = stylize_job(params, inputs, reporter.progress)
        except JobCancelled:
            reporter.finish(CANCELLED)
        except StylegramError as error:
            reporter.finish(FAILED, error=str(error))
        except Exception as error:  # reported to the job's owner instead of vanishing in a worker log
            reporter.finish(FAILED, error=f"internal error: {type(error).__name__}: {error}")
            raise
        else:
            reporter.finish(DONE, result=result, run=run)


class UnsupportedUpload(InputError):
    """An upload that is not an image in one of :data:`UPLOAD_FORMATS`, nor a video where one is taken (HTTP 415)."""


#: FFmpeg's names of the containers taken as video uploads (MP4/MOV, Matroska/WebM, AVI): not GIFs or stills.
VIDEO_CONTAINERS = {"mov", "mp4", "matroska", "webm", "avi"}

#: What a job makes, by kind: the result's file name and media type.
RESULTS = {"image": ("result.png", "image/png"), "video": ("result.mp4", "video/mp4")}


def probe_video_bytes(data: bytes, what: str) -> VideoInfo:
    """:func:`~stylegram.io.video.probe_video` of an upload's bytes (through a temporary file: container formats
    need to seek); errors name the upload as ``what``.

    Raises:
        UnsupportedUpload: not a video.
        InputError: a video stylegram does not take (variable frame rate, over the limits…).
    """
    with tempfile.NamedTemporaryFile(suffix=".video") as file:
        file.write(data)
        file.flush()
        try:
            with av.open(file.name) as container:
                if not set(container.format.name.split(",")) & VIDEO_CONTAINERS:
                    raise UnsupportedUpload(f"the {what} is neither an image nor a video stylegram can read")
            return probe_video(file.name)
        except av.error.FFmpegError:
            raise UnsupportedUpload(f"the {what} is neither an image nor a video stylegram can read") from None
        except UnsupportedUpload:
            raise
        except InputError as error:
            message = str(error).replace(file.name, f"the {what}")
            if any(words in message for words in ("not a readable video", "still image", "no video stream")):
                raise UnsupportedUpload(f"the {what} is neither an image nor a video stylegram can read") from None
            raise InputError(message) from None


def open_image_bytes(data: bytes, what: str, max_pixels: int) -> Image.Image:
    """An upload's bytes as an RGB image, checked by content (not by name) and against ``max_pixels``.

    Raises:
        UnsupportedUpload: not an image in an accepted format.
        InputError: damaged, or too large.
    """
    from stylegram.io.image import load_image

    return load_image(_open_upload(data, what, max_pixels), max_pixels=max_pixels, what=what)


def check_image_bytes(data: bytes, what: str, max_pixels: int) -> tuple[int, int]:
    """What :func:`open_image_bytes` checks, at a fraction of the cost: the upright ``(width, height)`` of an
    upload. A JPEG is decoded at an eighth of its size (every byte is still read, so a damaged one is still
    found): a full 30-megapixel decode would allocate 90 MB while holding the interpreter, and the event loop
    would wait for it.

    Raises:
        UnsupportedUpload: not an image in an accepted format.
        InputError: damaged, or too large.
    """
    from stylegram.io.image import check_pixel_count, load_image

    image = _open_upload(data, what, max_pixels)
    width, height = image.size
    check_pixel_count(image.size, max_pixels, what)  # now: the draft below makes the image look smaller
    image.draft("RGB", (max(1, width // 8), max(1, height // 8)))
    checked = load_image(image, max_pixels=max_pixels, what=what)
    turned = width != height and (checked.width > checked.height) != (width > height)  # EXIF orientation
    return (height, width) if turned else (width, height)


def _open_upload(data: bytes, what: str, max_pixels: int) -> Image.Image:
    try:
        image = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError:
        raise InputError(f"the {what} has too many pixels (over {max_pixels})") from None
    except Exception:
        raise UnsupportedUpload(f"the {what} is not an image (JPEG, PNG, WebP, BMP or TIFF)") from None
    if image.format not in UPLOAD_FORMATS:
        raise UnsupportedUpload(f"the {what} is a {image.format} file; accepted: {', '.join(UPLOAD_FORMATS)}")
    return image


#: MPO: the JPEG of cameras that store more than one view (the first is taken, as the CLI does).
UPLOAD_FORMATS = ("JPEG", "MPO", "PNG", "WEBP", "BMP", "TIFF")
