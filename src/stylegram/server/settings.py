"""The service's settings: where it keeps its data, which queue it uses, and its limits."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from stylegram.engines import engine_infos

#: Environment variables read by ``stylegram serve`` and ``stylegram worker`` when the option is not given.
QUEUE_VARIABLE, TOKEN_VARIABLE, DATA_VARIABLE = "STYLEGRAM_QUEUE", "STYLEGRAM_TOKEN", "STYLEGRAM_DATA"
#: The names of this machine a server on loopback answers to.
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")


#: The largest long side of a video's frames and of a live stream's, whatever the engine's own cap.
MAX_VIDEO_SIZE, MAX_LIVE_SIZE = 1920, 1280


def default_max_sizes() -> dict[str, int]:
    """Each engine's cap from its description, with those of videos and live streams."""
    return {info.name: info.max_size for info in engine_infos()} | {"video": MAX_VIDEO_SIZE, "live": MAX_LIVE_SIZE}


@dataclass
class ServiceSettings:
    """Attributes:
    data_dir: job records, uploads and results (and the SQLite queue, when no Redis URL is given).
    queue: ``redis://host:port/db`` to share the queue with workers on other machines; None: SQLite in
        ``data_dir``.
    token: when set, every API call needs ``Authorization: Bearer <token>`` (or ``?token=`` where a header
        cannot be sent, as with EventSource and ``<img>``).
    max_upload_bytes / max_upload_pixels: per uploaded image.
    max_video_bytes / max_video_seconds: per uploaded clip.
    max_size: the largest output long side per engine (by default its description's ``max_size``), and for
        videos and live streams.
    max_iterations: the most optimisation steps a job may ask for.
    video_chunk_frames: the frames of each chunk of a clip sent to ``POST /v1/videos`` (a job each, shared by
        the workers): 10 s at 24 fps, so the warm-up and shared frames each chunk makes again cost a fifth.
    stale_after_s: a running job whose worker has not reported for this long is given to another worker (and a
        queued job whose task left the queue without a worker reporting on it is queued again).
    attempts: how many times a job is started before it is declared failed (a worker lost each time).
    allowed_hosts: the names the server answers to in the ``Host`` header (``*``: any): a page on another name
        that resolves to this machine (DNS rebinding) is refused.
    allowed_origins: web pages (``scheme://host:port``) besides the server's own that may send it jobs; a
        browser's request from any other ``Origin`` that would change something is refused.
    max_live_streams: live camera streams served at once (``/v1/live``); the next viewer is told to wait.
    """

    data_dir: Path = Path("stylegram-data")
    queue: str | None = None
    token: str | None = None
    max_upload_bytes: int = 20 * 2**20
    max_upload_pixels: int = 30_000_000
    max_video_bytes: int = 200 * 2**20
    max_video_seconds: float = 120.0
    max_size: dict[str, int] = field(default_factory=lambda: default_max_sizes())
    max_iterations: int = 1000
    max_batch_items: int = 200
    max_batch_zip_bytes: int = 200 * 2**20
    video_chunk_frames: int = 240
    stale_after_s: float = 20.0
    attempts: int = 3
    allowed_hosts: tuple[str, ...] = LOCAL_HOSTS
    allowed_origins: tuple[str, ...] = ()
    max_live_streams: int = 4

    def accepts_token(self, given: str) -> bool:
        """Whether ``given`` is this server's API token (anything is, where it has none)."""
        return self.token is None or secrets.compare_digest(given.encode(), self.token.encode())

    @classmethod
    def from_environment(cls, **given: object) -> ServiceSettings:
        """Settings from the given values, falling back to ``STYLEGRAM_DATA/QUEUE/TOKEN``, then the defaults."""
        fallbacks = {"data_dir": DATA_VARIABLE, "queue": QUEUE_VARIABLE, "token": TOKEN_VARIABLE}
        values = {name: value for name, value in given.items() if value is not None}
        for name, variable in fallbacks.items():
            if name not in values and os.environ.get(variable):
                values[name] = os.environ[variable]
        if "data_dir" in values:
            values["data_dir"] = Path(values["data_dir"])
        return cls(**values)
