"""The HTTP service: the REST API under ``/v1``, its OpenAPI page at ``/docs``, and the web page at ``/``.

Jobs are queued (see :mod:`stylegram.server.queue`) and run by workers; this process only checks requests,
keeps the records and serves files. ``POST /v1/stylize`` is the one synchronous call: a fast-engine picture
made in the request.

Example:
    >>> from fastapi.testclient import TestClient
    >>> import tempfile
    >>> app = create_app(ServiceSettings(data_dir=tempfile.mkdtemp()))
    >>> with TestClient(app, base_url="http://localhost") as client:
    ...     client.get("/v1/health").json()["status"]
    'ok'
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import gc
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, TypeVar
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, FastAPI, File, Form, HTTPException, Query, Request, UploadFile, WebSocket
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.sse import EventSourceResponse, ServerSentEvent
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ValidationError
from redis.exceptions import RedisError
from starlette.datastructures import Headers
from starlette.formparsers import MultiPartParser

from stylegram.engines import engine_info, engine_infos
from stylegram.engines.base import picture_size
from stylegram.engines.regions import draw_regions
from stylegram.errors import InputError
from stylegram.io.image import encode_image
from stylegram.models.store import read_style_info, shipped_styles, style_painting
from stylegram.segmentation import MAX_REGIONS
from stylegram.server.batches import (
    Batch,
    BatchItem,
    BatchStore,
    batch_finished,
    batch_jobs,
    item_names,
    picture_name,
    result_zip,
    zip_pictures,
)
from stylegram.server.collector import Collector
from stylegram.server.faults import FaultLog
from stylegram.server.live import CLOSE_POLICY, LiveService
from stylegram.server.queue import JobQueue, QueueUnavailable
from stylegram.server.records import (
    CANCELLED,
    DONE,
    FAILED,
    FINAL_STATES,
    QUEUED,
    RESULTS,
    RUNNING,
    Job,
    JobStore,
    new_job_id,
)
from stylegram.server.schemas import JobParams, check_job, check_style_size
from stylegram.server.settings import ServiceSettings
from stylegram.server.task import stylize_job
from stylegram.server.uploads import UnsupportedUpload, check_image_bytes, open_image_bytes, probe_video_bytes
from stylegram.version import __version__
from stylegram.video import DEFAULT_OVERLAP, plan_chunks

STATIC = Path(str(resources.files("stylegram.server") / "static"))

#: Seconds between two looks at a job while streaming its events.
EVENT_POLL_S = 0.25
#: Uploads decoded and checked at once, off the event loop (each may be a 30-megapixel decode): the loop stays
#: free for every other client, and memory stays bounded however many arrive together.
UPLOAD_THREADS = 2
#: Requests that change nothing, which any page may make (browsers send them without asking anyway).
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")

T = TypeVar("T")


class Progress(BaseModel):
    step: int = 0
    total: int = 0
    stage: str = ""
    elapsed_s: float = 0.0
    losses: dict[str, float] = {}


class JobOut(BaseModel):
    """A job as the API shows it; the URLs are relative to the server."""

    id: str
    status: str
    params: dict[str, Any]
    attempt: int
    progress: Progress
    error: str | None
    created: float
    updated: float
    run: dict[str, Any]
    worker: str | None
    events_url: str
    preview_url: str | None
    result_url: str | None


class BatchOut(BaseModel):
    """A batch as the API shows it: its jobs, how many are in each state, and its URLs."""

    id: str
    created: float
    counts: dict[str, int]
    finished: bool
    items: list[JobOut]
    names: list[str]
    events_url: str
    result_url: str | None


def _has_result(batch: Batch, done: int, items: int) -> bool:
    """A batch of pictures has a zip once any is done; a video, once every chunk is."""
    return done == items if batch.kind == "video" else done > 0


def batch_out(batch: Batch, jobs: list[Job]) -> BatchOut:
    counts = {state: sum(job.status == state for job in jobs) for state in (QUEUED, RUNNING, DONE, FAILED, CANCELLED)}
    base = f"/v1/batches/{batch.id}"
    return BatchOut(
        id=batch.id,
        created=batch.created,
        counts=counts,
        finished=batch_finished(jobs),
        items=[job_out(job) for job in jobs],
        names=[item.name for item in batch.items],
        events_url=f"{base}/events",
        result_url=f"{base}/result" if _has_result(batch, counts[DONE], len(jobs)) else None,
    )


class StyleOut(BaseModel):
    name: str
    thumbnail_url: str
    painting_url: str
    training: dict[str, Any]


def job_out(job: Job) -> JobOut:
    base = f"/v1/jobs/{job.id}"
    return JobOut(
        id=job.id,
        status=job.status,
        params=job.params,
        attempt=job.attempt,
        progress=Progress(**job.progress),
        error=job.error,
        created=job.created,
        updated=job.updated,
        run=job.run,
        worker=job.worker,
        events_url=f"{base}/events",
        # The step in the URL makes each new preview a new address, so browsers never show a cached one.
        preview_url=f"{base}/preview?step={job.preview_step}" if job.preview_step else None,
        result_url=f"{base}/result" if job.status == "done" else None,
    )


class Service:
    """What the routes share: settings, records, queue, collector."""

    def __init__(self, settings: ServiceSettings) -> None:
        self.settings = settings
        self.store = JobStore(settings.data_dir)
        self.batches = BatchStore(settings.data_dir)
        self.queue = JobQueue(settings.queue, settings.data_dir)
        self.collector = Collector(self.store, self.queue, settings)
        self.upload_threads = ThreadPoolExecutor(UPLOAD_THREADS, thread_name_prefix="stylegram-upload")

    def off_loop(self, function: Callable[..., T], *args: Any) -> Awaitable[T]:
        """Run blocking work (decoding, checking, writing uploads) on the bounded upload threads."""
        return asyncio.get_running_loop().run_in_executor(self.upload_threads, functools.partial(function, *args))

    def accept(self, job: Job, inputs: dict[str, bytes]) -> Job:
        """Record a job and queue it; one the queue cannot take leaves no record behind.

        Raises:
            QueueUnavailable: the queue cannot take it now.
        """
        self.store.add(job, inputs)
        try:
            task_id = self.queue.enqueue(job.id, job.attempt, job.params, inputs)
        except QueueUnavailable:
            self.store.remove(job.id)
            raise
        self.store.update(job.id, task_id=task_id)
        return self.job(job.id)

    def batch(self, batch_id: str) -> tuple[Batch, list[Job]]:
        batch = self.batches.get(batch_id)
        if batch is None:
            raise HTTPException(404, f"no batch {batch_id!r}")
        return batch, batch_jobs(batch, self.store)

    def job(self, job_id: str) -> Job:
        job = self.store.get(job_id)
        if job is None:
            raise HTTPException(404, f"no job {job_id!r}")
        return job

    async def read_upload(
        self, upload: UploadFile, what: str, videos: bool = False
    ) -> tuple[bytes, str, tuple[int, int] | None]:
        """An upload's bytes, kind (``image``, or ``video`` where ``videos`` are taken) and, for an image, its
        size, checked by content against the limits (off the event loop): a bad file is refused now with a clear
        error, not as a failed job later."""
        settings = self.settings
        limit = max(settings.max_upload_bytes, settings.max_video_bytes if videos else 0)
        data = await upload.read(limit + 1)
        if not data:
            raise HTTPException(400, f"the {what} upload is empty")
        if len(data) > limit:
            raise HTTPException(413, f"the {what} is over this server's limit of {limit} bytes")
        kind, size = await self.off_loop(self.check_upload, data, what, videos)
        return data, kind, size

    def check_upload(self, data: bytes, what: str, videos: bool) -> tuple[str, tuple[int, int] | None]:
        settings = self.settings
        try:
            size = check_image_bytes(data, what, settings.max_upload_pixels)
        except UnsupportedUpload as error:
            if not videos:
                raise HTTPException(415, str(error)) from None
            self._check_clip(data, what)
            return "video", None
        if len(data) > settings.max_upload_bytes:
            raise HTTPException(413, f"the {what} is over this server's limit of {settings.max_upload_bytes} bytes")
        return "image", size

    def _check_clip(self, data: bytes, what: str) -> None:
        settings = self.settings
        if len(data) > settings.max_video_bytes:
            raise HTTPException(413, f"the {what} is over this server's limit of {settings.max_video_bytes} bytes")
        try:
            info = probe_video_bytes(data, what)
        except UnsupportedUpload as error:
            raise HTTPException(415, str(error)) from None
        if info.duration_s > settings.max_video_seconds:
            raise HTTPException(
                400,
                f"the {what} lasts {info.duration_s:.0f} s; this server takes up to {settings.max_video_seconds:g} s",
            )


def host_name(host: str) -> str:
    """The name in a ``Host`` header, without its port.

    Example:
        >>> host_name("localhost:8000"), host_name("[::1]:8000"), host_name("example.org")
        ('localhost', '::1', 'example.org')
    """
    if host.startswith("["):
        return host[1:].partition("]")[0]
    return host.rpartition(":")[0] if host.count(":") == 1 else host


class HostAndOriginCheck:
    """ASGI middleware refusing a ``Host`` the server does not go by (DNS rebinding: a page on another name that
    resolves to this machine), and a request that would change something sent by a page of another origin (a
    form posted from any web page needs no preflight). Plain ASGI: it never touches the body, so large uploads
    stream past it."""

    def __init__(self, app: Any, settings: ServiceSettings) -> None:
        self.app, self.settings = app, settings

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] == "http":
            refusal = self.refusal(Headers(scope=scope), scope["method"])
            if refusal is not None:
                await refusal(scope, receive, send)
                return
        elif scope["type"] == "websocket" and self.refusal(Headers(scope=scope), "WEBSOCKET") is not None:
            # A page of any site may open a WebSocket here with no preflight: treated as a change, and refused
            # at the handshake (HTTP 403).
            await receive()
            await send({"type": "websocket.close", "code": CLOSE_POLICY})
            return
        await self.app(scope, receive, send)

    def refusal(self, headers: Headers, method: str) -> JSONResponse | None:
        settings, host, origin = self.settings, headers.get("host", ""), headers.get("origin")
        if "*" not in settings.allowed_hosts and host_name(host) not in settings.allowed_hosts:
            detail = f"this server does not answer to the host name {host_name(host)!r} (see serve --allowed-host)"
            return JSONResponse({"detail": detail}, status_code=400)
        foreign = origin is not None and origin not in settings.allowed_origins and urlsplit(origin).netloc != host
        if method not in SAFE_METHODS and foreign:
            detail = f"requests from pages of {origin} are not accepted (see serve --allowed-origin)"
            return JSONResponse({"detail": detail}, status_code=403)
        return None


def create_app(settings: ServiceSettings, collect: bool = True) -> FastAPI:
    """The service's ASGI app.

    Args:
        settings: data directory, queue, token and limits.
        collect: run the collector thread that moves worker reports into the records (tests may call
            ``app.state.service.collector.collect_once()`` themselves instead).
    """
    service = Service(settings)
    live = LiveService(settings)
    # Uploads are read whole into memory right after parsing: spooled to disk past 1 MB, as Starlette does by
    # default, every 64 KB of a body would first go through a thread hop on the event loop (about 50 ms of loop
    # time per 4 MB photo, which held other clients during a flood of uploads). The request size stays capped by
    # max_body_size below.
    MultiPartParser.spool_max_size = max(MultiPartParser.spool_max_size, settings.max_upload_bytes)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # The objects of start-up (torch, pydantic, the routes: about 200 000) are set aside from the garbage
        # collector: its full passes, well into serving, walked them all (0.16 s here) with the event loop held.
        gc.collect()
        gc.freeze()
        if collect:
            service.collector.start()
        yield
        if collect:
            service.collector.stop()
        service.upload_threads.shutdown(wait=False, cancel_futures=True)
        live.close()

    app = FastAPI(
        title="stylegram",
        version=__version__,
        description="Neural style transfer as a service: queue a photo and a painting, follow its progress, "
        "download the picture.",
        lifespan=lifespan,
        # The uploads (a photo or clip, and a painting) and the form fields; each is limited again on its own.
        max_body_size=max(settings.max_upload_bytes, settings.max_video_bytes) + settings.max_upload_bytes + 2**16,
    )
    app.state.service, app.state.live = service, live

    @app.exception_handler(InputError)
    async def input_error(request: Request, error: InputError) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=400)

    faults = FaultLog("serving a request")

    @app.exception_handler(QueueUnavailable)
    @app.exception_handler(RedisError)
    async def queue_unavailable(request: Request, error: Exception) -> JSONResponse:
        faults.failed(error)
        reason = str(error) if isinstance(error, QueueUnavailable) else f"the job queue cannot be reached: {error}"
        return JSONResponse({"detail": f"{reason}; try again later"}, status_code=503)

    @app.exception_handler(OSError)
    @app.exception_handler(sqlite3.Error)
    async def storage_unavailable(request: Request, error: Exception) -> JSONResponse:
        faults.failed(error)
        reason = getattr(error, "strerror", None) or str(error)
        detail = f"the server cannot read or write its data directory now ({reason}); try again later"
        return JSONResponse({"detail": detail}, status_code=503)

    app.add_middleware(HostAndOriginCheck, settings=settings)

    @app.exception_handler(ValidationError)
    async def validation_error(request: Request, error: ValidationError) -> JSONResponse:
        return JSONResponse({"detail": error.errors(include_url=False, include_context=False)}, status_code=422)

    def require_token(request: Request, token: Annotated[str | None, Query(include_in_schema=False)] = None) -> None:
        given = request.headers.get("authorization", "").removeprefix("Bearer ").strip() or token or ""
        if not settings.accepts_token(given):
            raise HTTPException(401, "this server needs an API token: Authorization: Bearer <token>")

    api = APIRouter(prefix="/v1", dependencies=[Depends(require_token)])

    @app.get("/v1/health", tags=["service"])
    async def health() -> dict[str, Any]:
        """Liveness, version, queue kind and whether a token is needed."""
        return {
            "status": "ok",
            "version": __version__,
            "queue": service.queue.describe(),
            "token_required": settings.token is not None,
        }

    @api.get("/engines", tags=["styles"])
    def engines() -> list[dict[str, Any]]:
        """Every engine as it describes itself (what it paints from, regions, previews, video, live, its default
        strength, its options with their help), with this server's size cap for it and for videos."""
        return [
            info.public() | {"max_size": settings.max_size[info.name], "max_video_size": settings.max_size["video"]}
            for info in engine_infos()
        ]

    @api.get("/styles", tags=["styles"])
    def styles() -> list[StyleOut]:
        """The shipped styles, usable by every engine by name."""
        listing = []
        for name in shipped_styles():
            info = read_style_info(name)
            trained = info.get("trained", {})
            listing.append(
                StyleOut(
                    name=name,
                    thumbnail_url=f"/v1/styles/{name}/thumbnail",
                    painting_url=f"/v1/styles/{name}/painting",
                    training={key: trained.get(key) for key in ("steps", "image_size", "batch_size")},
                )
            )
        return listing

    @api.get("/styles/{name}/{picture}", tags=["styles"], response_class=FileResponse)
    def style_picture(name: str, picture: str) -> FileResponse:
        """A shipped style's ``thumbnail`` (its network's picture of a photo) or ``painting``."""
        if name not in shipped_styles() or picture not in ("thumbnail", "painting"):
            raise HTTPException(404, f"no {picture} for style {name!r}")
        path = style_painting(name) if picture == "painting" else shipped_styles()[name].with_suffix(".jpg")
        return FileResponse(path, media_type="image/jpeg")

    @api.post("/jobs", status_code=202, tags=["jobs"])
    async def submit(
        content: Annotated[UploadFile, File(description="the photo, or a video clip")],
        params: Annotated[JobParams, Form()],
        style_image: Annotated[UploadFile | None, File(description="a painting, instead of a style name")] = None,
        region_map: Annotated[
            UploadFile | None,
            File(description="a label map in flat colours (see POST /v1/regions), with region_styles"),
        ] = None,
    ) -> JobOut:
        """Queue a job; answers at once with its id and URLs (202)."""
        data, kind, size = await service.read_upload(content, "content", videos=True)
        params = params.model_copy(update={"kind": kind})
        label_map = None
        if region_map is not None:
            map_data, _, _ = await service.read_upload(region_map, "region map")
            label_map = open_image_bytes(map_data, "region map", settings.max_upload_pixels)
        check_job(params, style_image is not None, settings, label_map)
        if size is not None:
            picture_size(size, params.size, "content image")
        inputs = {"content": data}
        if label_map is not None:
            inputs["region_map"] = map_data
        if style_image is not None:
            inputs["style"], _, style_size = await service.read_upload(style_image, "style image")
            check_style_size(params, style_size, "style image")
        job = Job(id=new_job_id(), status=QUEUED, params=params.model_dump())
        return job_out(await service.off_loop(service.accept, job, inputs))

    @api.post("/regions", tags=["sync"], response_class=Response, responses={200: {"content": {"image/png": {}}}})
    async def regions(
        content: Annotated[UploadFile, File(description="the photo")],
        count: Annotated[int, Form(ge=2, le=MAX_REGIONS, description="how many regions")] = 4,
    ) -> Response:
        """The photo's regions by meaning (as ``--regions semantic:K``), as a label map PNG at the photo's size
        fitted within 1024 px: each region a colour of the region palette, top region first. Send it back with a
        job as ``region_map``, naming what paints each colour in ``region_styles``."""
        data, _, _ = await service.read_upload(content, "content")
        photo = open_image_bytes(data, "content image", settings.max_upload_pixels)
        drawn = await service.off_loop(draw_regions, photo, count)
        return Response(encode_image(drawn, "PNG"), media_type="image/png")

    @api.post("/batches", status_code=202, tags=["batches"])
    async def submit_batch(
        params: Annotated[JobParams, Form()],
        contents: Annotated[list[UploadFile] | None, File(description="the photos")] = None,
        photos_zip: Annotated[
            UploadFile | None, File(description="a zip of photos, beside or instead of contents")
        ] = None,
        styles: Annotated[str | None, Form(description="comma-separated shipped style names (fast engine)")] = None,
        style_images: Annotated[list[UploadFile] | None, File(description="paintings (the other engines)")] = None,
    ) -> BatchOut:
        """Queue every photo × style as a job of its own (any number of workers share them); answers at once
        with the batch (202). The fast engine takes ``styles``, the others ``style_images``."""
        names = [name.strip() for name in (styles or "").split(",") if name.strip()]
        paintings = style_images or []
        takes_model = engine_info(params.engine).style_input == "model"
        if takes_model and paintings:
            raise InputError(
                f"the {params.engine} engine paints shipped styles: give their names in styles, not style images"
            )
        if not takes_model and names:
            raise InputError(f"the {params.engine} engine takes paintings: give style_images, not style names")
        photos = []
        for index, upload in enumerate(contents or [], start=1):
            data, _, size = await service.read_upload(upload, f"photo {index}")
            picture_size(size, params.size, f"photo {index}")
            photos.append((picture_name(upload.filename, f"photo{index}"), data))
        if photos_zip is not None:
            archive = await photos_zip.read(settings.max_batch_zip_bytes + 1)
            if len(archive) > settings.max_batch_zip_bytes:
                raise HTTPException(413, f"the zip is over this server's limit of {settings.max_batch_zip_bytes} bytes")
            members = await service.off_loop(zip_pictures, archive, settings.max_upload_bytes, settings.max_batch_items)
            for name, data in members:
                _, size = await service.off_loop(service.check_upload, data, f"{name} in the zip", False)
                picture_size(size, params.size, f"{name} in the zip")
                photos.append((picture_name(name, f"photo{len(photos) + 1}"), data))
        count = len(photos) * len(names or paintings)
        if not count:
            raise InputError("a batch needs at least one photo and one style")
        if count > settings.max_batch_items:
            raise InputError(f"{count} items; this server takes at most {settings.max_batch_items} per batch")
        style_inputs: list[tuple[str, dict[str, Any], dict[str, bytes]]] = []
        for name in names:
            check_job(params.model_copy(update={"style": name}), False, settings)
            style_inputs.append((name, {"style": name}, {}))
        if paintings:
            check_job(params, True, settings)
        for index, upload in enumerate(paintings, start=1):
            data, _, style_size = await service.read_upload(upload, f"style image {index}")
            check_style_size(params, style_size, f"style image {index}")
            style_inputs.append((picture_name(upload.filename, f"style{index}"), {}, {"style": data}))
        item_files = item_names([photo for photo, _ in photos], [style for style, _, _ in style_inputs])
        items, pairs = [], [(photo, style) for photo in photos for style in style_inputs]
        for ((_, data), (_, changes, extra)), name in zip(pairs, item_files, strict=True):
            job = Job(id=new_job_id(), status=QUEUED, params=params.model_copy(update=changes).model_dump())
            await service.off_loop(service.accept, job, {"content": data, **extra})
            items.append(BatchItem(job.id, name))
        batch = Batch(new_job_id(), items)
        await service.off_loop(service.batches.add, batch)
        return batch_out(*service.batch(batch.id))

    @api.post("/videos", status_code=202, tags=["batches"])
    async def submit_video(
        content: Annotated[UploadFile, File(description="the clip")],
        params: Annotated[JobParams, Form()],
        chunk_frames: Annotated[int | None, Form(ge=2, description="frames per chunk (default: the server's)")] = None,
    ) -> BatchOut:
        """A clip in chunks of frames, each a job of its own, so several workers make it at once; each chunk
        blends ``warmup`` frames before its own and shares ``DEFAULT_OVERLAP`` with the one before, which the
        join fades across. Answers at once with the batch (202); its result is the whole video, with the clip's
        sound, once every chunk is done."""
        data, kind, _ = await service.read_upload(content, "clip", videos=True)
        if kind != "video":
            raise InputError("the upload is a picture; POST /v1/videos takes a clip")
        params = params.model_copy(update={"kind": "video"})
        check_job(params, False, settings)
        info = await service.off_loop(probe_video_bytes, data, "clip")
        chunks = plan_chunks(
            info.frames, chunk_frames or settings.video_chunk_frames, min(DEFAULT_OVERLAP, info.frames // 4)
        )
        items = []
        for chunk in chunks:
            changes = {"frames_from": chunk.start, "frames_to": chunk.stop}
            job = Job(id=new_job_id(), status=QUEUED, params=params.model_copy(update=changes).model_dump())
            await service.off_loop(service.accept, job, {"content": data})
            items.append(BatchItem(job.id, f"frames_{chunk.start:06d}-{chunk.stop:06d}.mp4"))
        batch = Batch(new_job_id(), items, kind="video", chunks=[dataclasses.asdict(chunk) for chunk in chunks])
        await service.off_loop(service.batches.add, batch)
        return batch_out(*service.batch(batch.id))

    @api.get("/batches/{batch_id}", tags=["batches"])
    def batch_status(batch_id: str) -> BatchOut:
        """A batch's items and how many are in each state."""
        return batch_out(*service.batch(batch_id))

    @api.get("/batches/{batch_id}/events", response_class=EventSourceResponse, tags=["batches"])
    async def batch_events(batch_id: str) -> AsyncIterator[ServerSentEvent]:
        """Server-Sent Events: the batch (as ``GET /v1/batches/{id}``) each time one of its items changes state
        or step; the stream ends once every item has ended."""
        last = None
        while True:
            batch, jobs = service.batch(batch_id)
            snapshot = [(job.status, job.progress.get("step")) for job in jobs]
            if snapshot != last:
                last = snapshot
                out = batch_out(batch, jobs)
                yield ServerSentEvent(data=out.model_dump(), event="finished" if out.finished else "progress")
            if batch_finished(jobs):
                return
            await asyncio.sleep(EVENT_POLL_S)

    @api.get("/batches/{batch_id}/result", tags=["batches"], response_class=Response)
    def batch_result(batch_id: str) -> Response:
        """The finished pictures so far, in one zip named as ``names`` says (409 while none is done); for a
        video, the whole video (409 until every chunk is done)."""
        batch, jobs = service.batch(batch_id)
        if batch.kind == "video":
            if not all(job.status == DONE for job in jobs):
                raise HTTPException(409, f"video {batch_id} is not finished: {len(jobs)} chunks, not all done")
            path = service.batches.joined_video(batch, service.store)
            return FileResponse(path, media_type="video/mp4", filename=f"stylegram-video-{batch_id[:8]}.mp4")
        if not any(job.status == DONE for job in jobs):
            raise HTTPException(409, f"batch {batch_id} has no finished picture yet")
        headers = {"Content-Disposition": f'attachment; filename="stylegram-batch-{batch_id[:8]}.zip"'}
        return Response(result_zip(batch, service.store), media_type="application/zip", headers=headers)

    @api.get("/jobs", tags=["jobs"])
    def list_jobs(ids: Annotated[str, Query(description="comma-separated job ids, at most 100")]) -> list[JobOut]:
        """The jobs with these ids (unknown ones are left out): a client keeps its own ids, as the web page
        does, since there is no listing of other people's jobs."""
        wanted = [job_id for job_id in ids.split(",") if job_id][:100]
        return [job_out(job) for job in map(service.store.get, wanted) if job is not None]

    @api.get("/jobs/{job_id}", tags=["jobs"])
    def job_status(job_id: str) -> JobOut:
        """A job's status and latest progress."""
        return job_out(service.job(job_id))

    @api.get("/jobs/{job_id}/events", response_class=EventSourceResponse, tags=["jobs"])
    async def job_events(job_id: str) -> AsyncIterator[ServerSentEvent]:
        """Server-Sent Events: the job (as ``GET /v1/jobs/{id}``) each time its status, step or preview changes;
        the event name is the status; the stream ends after a final one (done, failed, cancelled)."""
        job = service.job(job_id)
        last = None
        while True:
            snapshot = (job.status, job.attempt, job.progress.get("step"), job.preview_step)
            if snapshot != last:
                last = snapshot
                yield ServerSentEvent(data=job_out(job).model_dump(), event=job.status, id=str(job.updated))
            if job.status in FINAL_STATES:
                return
            await asyncio.sleep(EVENT_POLL_S)
            job = service.job(job_id)

    @api.get("/jobs/{job_id}/preview", tags=["jobs"], response_class=FileResponse)
    def job_preview(job_id: str) -> FileResponse:
        """The latest preview (JPEG) of a running optimisation."""
        return _job_file(job_id, "preview.jpg", "image/jpeg")

    @api.get("/jobs/{job_id}/result", tags=["jobs"], response_class=FileResponse)
    def job_result(job_id: str) -> FileResponse:
        """The finished picture (PNG), or clip (MP4) for a video job."""
        job = service.job(job_id)
        if job.status != "done":
            raise HTTPException(409, f"job {job_id} is {job.status}, it has no result")
        name, media_type = RESULTS[job.params.get("kind", "image")]
        return _job_file(job_id, name, media_type, download=f"stylegram-{job_id[:8]}{Path(name).suffix}")

    def _job_file(job_id: str, name: str, media_type: str, download: str | None = None) -> FileResponse:
        path = service.store.folder(service.job(job_id).id) / name
        if not path.is_file():
            raise HTTPException(404, f"job {job_id} has no {name} yet")
        return FileResponse(path, media_type=media_type, filename=download)

    @api.post("/jobs/{job_id}/cancel", tags=["jobs"])
    def cancel(job_id: str) -> JobOut:
        """Stop a queued or running job (409 when it has already ended)."""
        job = service.job(job_id)
        if not service.store.update(job_id, status=CANCELLED):
            raise HTTPException(409, f"job {job_id} has already ended ({job.status})")
        service.queue.cancel(job_id, job.task_id)
        return job_out(service.job(job_id))

    @api.post("/stylize", tags=["sync"], response_class=Response, responses={200: {"content": {"image/png": {}}}})
    async def stylize_now(
        content: Annotated[UploadFile, File(description="the photo")],
        style: Annotated[str, Form(description="a shipped style's name")],
        size: Annotated[int, Form(ge=64)] = 512,
        strength: Annotated[float, Form(ge=0, le=1)] = 1.0,
        color: Annotated[str, Form(pattern="^(none|luminance|match)$")] = "none",
    ) -> Response:
        """The fast engine, answered in the request: the picture as PNG."""
        params = JobParams(engine="fast", style=style, size=size, strength=strength, color=color)
        check_job(params, False, settings)
        data, _, size = await service.read_upload(content, "content image")
        picture_size(size, params.size, "content image")
        picture, _ = await asyncio.to_thread(stylize_job, params.model_dump(), {"content": data})
        return Response(picture, media_type="image/png")

    app.include_router(api)

    @app.websocket("/v1/live")
    async def live_stream(socket: WebSocket, token: str = "") -> None:
        """A live camera stream, stylized frame by frame (the protocol: ``stylegram.server.live``)."""
        given = socket.headers.get("authorization", "").removeprefix("Bearer ").strip() or token
        await live.serve(socket, given)

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app
