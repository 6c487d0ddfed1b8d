"""The run of one job on a worker (any machine that reaches the queue): the job's parameters turned into a
:func:`stylegram.api.stylize` or :func:`stylegram.api.stylize_video` call, and everything the worker reports
(progress, a heartbeat, previews, the finished result) put in the queue's key-value store under keys of that
job and attempt. That is what lets ``stylegram worker`` run on another machine with nothing but the Redis URL.
"""

from __future__ import annotations

import logging
import os
import socket
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from huey import Huey

from stylegram.api import ProgressEvent, engine_info, stylize, stylize_video
from stylegram.errors import InputError, StylegramError
from stylegram.io.image import ImageInput, encode_image
from stylegram.models.store import style_painting
from stylegram.server.faults import FaultLog
from stylegram.server.records import CANCELLED, DONE, FAILED
from stylegram.server.schemas import KEEP, JobParams, parse_region_styles
from stylegram.server.settings import ServiceSettings
from stylegram.server.uploads import open_image_bytes

logger = logging.getLogger("stylegram.server")

#: How often a worker says it is alive while a job runs.
HEARTBEAT_S = 1.0
#: JPEG quality of the optimisation engine's previews: small enough to stream every few steps.
PREVIEW_QUALITY = 88
#: How long a worker keeps trying to hand in a finished job's outcome while the queue's store is unreachable;
#: after that the server, which heard no heartbeat meanwhile, will have given the job to another worker.
OUTCOME_PATIENCE_S = 120.0


def report_key(job_id: str, attempt: int, what: str) -> str:
    """The queue store key under which attempt ``attempt`` of a job reports ``what``."""
    return f"stylegram:{job_id}:{attempt}:{what}"


def cancel_key(job_id: str) -> str:
    return f"stylegram:{job_id}:cancel"


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


#: The optimisation engine sends a preview with every N-th step.
PREVIEW_EVERY = 5


def stylize_job(
    params: dict[str, Any], inputs: dict[str, bytes], on_progress: Callable[[ProgressEvent], None] | None = None
) -> tuple[bytes, dict[str, Any]]:
    """Run a job on this machine: its result file (PNG, or MP4 for a video) and what the engine chose."""
    job = JobParams(**params)
    # The server checked the uploads against its own limits; a worker (maybe on another machine) has only the
    # defaults, which guard the decoding here.
    pixels = ServiceSettings.max_upload_pixels
    if job.kind == "video":
        painting = None  # an engine with trained models: the style's network
        if "style" in inputs:
            painting = open_image_bytes(inputs["style"], "style image", pixels)
        elif engine_info(job.engine).style_input == "paintings":
            painting = style_painting(job.style)
        return _stylize_clip(job, inputs["content"], painting, on_progress)
    content = open_image_bytes(inputs["content"], "content image", pixels)
    common = {"size": job.size, "seed": job.seed, "color": job.color}
    if job.strength is not None:
        common["strength"] = job.strength
    if engine_info(job.engine).previews:
        common["preview_every"] = PREVIEW_EVERY
    if job.iterations is not None:
        common["iterations"] = job.iterations
    if job.region_styles is not None:
        pairs = parse_region_styles(job.region_styles)
        painted = [(color, style) for color, style in pairs if style != KEEP]
        result = stylize(
            content,
            [style_painting(style) for _, style in painted],
            engine=job.engine,
            regions=open_image_bytes(inputs["region_map"], "region map", pixels),
            region_colors=[color for color, _ in painted],
            keep_regions=[color for color, style in pairs if style == KEEP] or None,
            on_progress=on_progress,
            **common,
        )
    elif engine_info(job.engine).style_input == "model":
        result = stylize(content, [], engine=job.engine, model=job.style, on_progress=on_progress, **common)
    else:
        style = open_image_bytes(inputs["style"], "style image", pixels) if "style" in inputs else None
        if style is None:
            if job.style is None:
                raise InputError("the job has neither a style name nor a style image")
            style = style_painting(job.style)
        result = stylize(
            content,
            style,
            engine=job.engine,
            regions=job.regions,
            match_regions=job.match_regions,
            on_progress=on_progress,
            **common,
        )
    picture = encode_image(result.image, "PNG", bit_depth=job.bit_depth, pixels=result.pixels)
    return picture, result.options.get("run", {})


def _stylize_clip(
    job: JobParams, clip: bytes, painting: ImageInput | None, on_progress: Callable[[ProgressEvent], None] | None
) -> tuple[bytes, dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="stylegram-video-") as folder:
        source, output = Path(folder) / "source.video", Path(folder) / "stylized.mp4"
        source.write_bytes(clip)
        frames = None if job.frames_from is None else (job.frames_from, job.frames_to)
        chosen = {"model": job.style} if painting is None else {"style": painting}
        if job.iterations is not None:
            chosen["iterations"] = job.iterations
        result = stylize_video(
            source, output, engine=job.engine, size=job.size, strength=job.strength, color=job.color,
            seed=job.seed, frames=frames, warmup=job.warmup, on_progress=on_progress, **chosen,
        )  # fmt: skip
        run = {"frames": result.frames, "size": list(result.size), "fps": float(result.fps),
               "has_audio": result.has_audio, "precision": result.options["precision"]}  # fmt: skip
        return output.read_bytes(), run
