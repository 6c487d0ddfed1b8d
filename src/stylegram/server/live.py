"""Live stylization over a WebSocket: a camera's frames in, stylized frames out, as fast as the machine allows.

The protocol of ``/v1/live`` (the token as ``?token=``: a browser cannot set headers on a WebSocket):

1. The client sends its choice as a JSON text message, :class:`LiveRequest`: a shipped style painted by its
   trained network (``{"style": "starry_night"}``), or a one-pass engine with a shipped style's painting
   (``{"engine": "adain", "style": "starry_night"}``) or its own (``{"engine": "adain", "painting": true}``, then
   the painting as one binary message).
2. The server answers ``{"type": "ready", ...}``, or ``{"type": "error", "detail": ...}`` and closes.
3. The client sends frames as binary messages: a 4-byte big-endian sequence number, then a JPEG, PNG or WebP.
4. For each frame it paints the server sends a text message ``{"type": "frame", "seq", "paint_ms", "dropped"}``
   and then a binary one: the same 4 bytes and the picture as a JPEG.

At most one frame waits per stream: a frame that arrives while another waits replaces it (``dropped`` counts
them), so a server that falls behind shows the newest frame late by one painting at most, and holds no queue.
Each stream keeps its own temporal state (the previous output, warped along the camera's motion, as in
video); the streams share one painting thread, in turn. A closed socket ends its stream and frees its state.
"""

from __future__ import annotations

import asyncio
import json
import struct
import time
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from fastapi import WebSocket, WebSocketDisconnect
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from stylegram.engines import engine_info, engine_infos
from stylegram.errors import InputError
from stylegram.io.image import encode_image, fit_long_side, load_image, resize
from stylegram.models.store import shipped_styles, style_painting
from stylegram.ops.flow import DEFAULT_TEMPORAL_STRENGTH, MATCH_TOLERANCE
from stylegram.server.settings import ServiceSettings
from stylegram.server.uploads import open_image_bytes
from stylegram.video import BlendingPainter

#: Frames larger than this are refused and the stream closed (a 1920×1080 JPEG from a canvas is about 0.5 MB).
MAX_FRAME_BYTES = 4 * 2**20
#: A frame's or painting's pixels, at most: more than any camera sends a page.
MAX_FRAME_PIXELS = 4096 * 2160
#: JPEG quality of the frames sent back: small and quick to encode at 640×360.
LIVE_QUALITY = 80
#: A client that has not taken a frame within this long is not reading: its stream is closed.
SEND_TIMEOUT_S = 10.0
#: A stream that has sent no frame for this long is closed (a tab left open in the background).
IDLE_TIMEOUT_S = 120.0
#: The one-pass engines work at this long side live (the output keeps the stream's size): 0.5× the pixels of
#: their default 512 px for about twice the frames a second (bench/live.py).
LIVE_WORK_SIZE = 320
#: Live, the flow is found at this fraction of the frame's size: a third of its cost (bench/live.py).
LIVE_FLOW_SCALE = 0.5
#: WebSocket close codes: the data was wrong (1003, 1007), too big (1009), a policy (1008), try later (1013).
CLOSE_BAD_DATA, CLOSE_POLICY, CLOSE_TOO_BIG, CLOSE_TRY_LATER = 1007, 1008, 1009, 1013
SEQUENCE = struct.Struct(">I")


class LiveRequest(BaseModel):
    """What a live stream paints, and how."""

    model_config = ConfigDict(extra="forbid")

    engine: str = Field(
        "fast",
        description="an engine fast enough for a stream (GET /v1/engines: live): fast paints a shipped style's "
        "trained network, the others any painting in one pass",
        json_schema_extra=lambda schema: schema.update(enum=live_engines()),
    )
    style: str | None = Field(None, description="a shipped style: its network (fast) or its painting")
    painting: bool = Field(False, description="a one-pass engine: the painting follows as one binary message")
    size: int = Field(640, ge=64, description="the long side the frames are painted at")
    temporal: bool = Field(True, description="keep each frame close to the previous one where the motion is sure")
    strength: float | None = Field(None, ge=0, le=1, description="0 the camera's picture … 1 the style's")


def live_engines() -> list[str]:
    """The engines a live stream may ask for."""
    return [info.name for info in engine_infos(live=True)]


def check_live_request(request: LiveRequest, settings: ServiceSettings) -> None:
    """Raises InputError for a request no stream can paint."""
    if request.engine not in live_engines():
        raise InputError(f"engine {request.engine!r} does not paint live; choose one of {', '.join(live_engines())}")
    if request.size > settings.max_size["live"]:
        raise InputError(f"size {request.size} is over this server's live limit of {settings.max_size['live']} px")
    if request.style is not None and request.style not in shipped_styles():
        raise InputError(f"unknown style {request.style!r}; shipped: {', '.join(shipped_styles())}")
    takes_model = engine_info(request.engine).style_input == "model"
    if takes_model and (request.style is None or request.painting):
        raise InputError(f"the {request.engine} engine paints a shipped style: send its name as style, and no painting")
    if not takes_model and (request.style is None) == (not request.painting):
        raise InputError(f"engine {request.engine} needs either a shipped style's name or a painting, not both")


class LiveStream:
    """One viewer's stream: its painter (and the temporal state in it) and its frame size; its camera's motion
    may be found on ``flow_thread`` while the network paints (:class:`~stylegram.video.BlendingPainter`)."""

    def __init__(self, request: LiveRequest, painting: Image.Image | None, flow_thread: Executor | None = None) -> None:
        self.request = request
        info = engine_info(request.engine)
        arguments = {"strength": request.strength, "color": "none", "precision": "auto"}
        if info.style_input == "model":
            arguments["model"] = request.style
        else:
            painting = painting if painting is not None else load_image(style_painting(request.style))
            arguments["work_size"] = LIVE_WORK_SIZE
        strength = DEFAULT_TEMPORAL_STRENGTH if request.temporal else 0.0
        self.painter = BlendingPainter(
            request.engine, painting, arguments, strength, LIVE_FLOW_SCALE, MATCH_TOLERANCE, flow_thread
        )

    def paint(self, data: bytes) -> tuple[bytes, float]:
        """A frame's picture as JPEG bytes, and the milliseconds it took (decoding and encoding included)."""
        started = time.perf_counter()
        frame = open_image_bytes(data, "frame", MAX_FRAME_PIXELS)
        if max(frame.size) > self.request.size:
            frame = resize(frame, fit_long_side(frame.size, self.request.size))
        picture = self.painter(np.asarray(frame))
        jpeg = encode_image(Image.fromarray(picture), "JPEG", quality=LIVE_QUALITY)
        return jpeg, (time.perf_counter() - started) * 1000


class _Refusal(Exception):
    """The stream ends: ``detail`` is said to the client, which is closed with ``code``."""

    def __init__(self, code: int, detail: str) -> None:
        super().__init__(detail)
        self.code, self.detail = code, detail


@dataclass
class _Waiting:
    """The newest frame not yet painted, and how many were replaced before being painted."""

    frame: tuple[int, bytes] | None = None
    dropped: int = 0
    closed: bool = False
    refusal: _Refusal | None = None


class LiveService:
    """The live streams of one server: how many run, and the threads they paint on in turn (and find their
    motion on: one stream paints at a time, so one flow thread serves them all)."""

    def __init__(self, settings: ServiceSettings) -> None:
        self.settings = settings
        self.streams = 0
        self.painting_thread = ThreadPoolExecutor(1, thread_name_prefix="stylegram-live")
        self.flow_thread = ThreadPoolExecutor(1, thread_name_prefix="stylegram-live-flow")

    def close(self) -> None:
        self.painting_thread.shutdown(wait=False, cancel_futures=True)
        self.flow_thread.shutdown(wait=False, cancel_futures=True)

    async def serve(self, socket: WebSocket, token: str) -> None:
        """Run one stream until the client goes (or fails the protocol)."""
        await socket.accept()
        if not self.settings.accepts_token(token):
            await _refuse(socket, CLOSE_POLICY, "this server needs an API token: ?token=<token>")
            return
        if self.streams >= self.settings.max_live_streams:
            await _refuse(socket, CLOSE_TRY_LATER, f"{self.streams} live streams are running; try again later")
            return
        self.streams += 1
        try:
            stream = await self._open(socket)
            if stream is not None:
                await self._run(socket, stream)
        except (WebSocketDisconnect, RuntimeError):
            pass  # the client went (a send after it closed raises RuntimeError)
        finally:
            self.streams -= 1

    async def _open(self, socket: WebSocket) -> LiveStream | None:
        loop = asyncio.get_running_loop()
        try:
            message = await asyncio.wait_for(socket.receive_text(), IDLE_TIMEOUT_S)
            request = LiveRequest.model_validate(json.loads(message))
            check_live_request(request, self.settings)
            painting = None
            if request.painting:
                painting = open_image_bytes(await _receive_frame_bytes(socket), "painting", MAX_FRAME_PIXELS)
            stream = await loop.run_in_executor(self.painting_thread, LiveStream, request, painting, self.flow_thread)
        except (json.JSONDecodeError, KeyError, TypeError):
            await _refuse(socket, CLOSE_BAD_DATA, "the first message must be the stream's choice, as JSON")
            return None
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(map(str, problem['loc']))}: {problem['msg']}" for problem in error.errors()
            )
            await _refuse(socket, CLOSE_BAD_DATA, f"a bad live request: {problems}")
            return None
        except InputError as error:
            await _refuse(socket, CLOSE_BAD_DATA, str(error))
            return None
        except _Refusal as refusal:
            await _refuse(socket, refusal.code, refusal.detail)
            return None
        except TimeoutError:
            await _refuse(socket, CLOSE_POLICY, f"no request came within {IDLE_TIMEOUT_S:g} s")
            return None
        await socket.send_json({"type": "ready", **request.model_dump()})
        return stream

    async def _run(self, socket: WebSocket, stream: LiveStream) -> None:
        waiting, ready = _Waiting(), asyncio.Event()
        receiver = asyncio.create_task(_receive_frames(socket, waiting, ready))
        try:
            while True:
                await ready.wait()
                ready.clear()
                if waiting.closed:
                    break
                sequence, data = waiting.frame
                waiting.frame = None
                try:
                    jpeg, paint_ms = await asyncio.get_running_loop().run_in_executor(
                        self.painting_thread, stream.paint, data
                    )
                except InputError as error:
                    await socket.send_json({"type": "error", "seq": sequence, "detail": str(error)})
                    continue
                report = {"type": "frame", "seq": sequence, "paint_ms": round(paint_ms, 1), "dropped": waiting.dropped}
                await asyncio.wait_for(socket.send_json(report), SEND_TIMEOUT_S)
                await asyncio.wait_for(socket.send_bytes(SEQUENCE.pack(sequence) + jpeg), SEND_TIMEOUT_S)
            if waiting.refusal is not None:
                await _refuse(socket, waiting.refusal.code, waiting.refusal.detail)
        except TimeoutError:
            await _refuse(socket, CLOSE_POLICY, f"the client took no frame for {SEND_TIMEOUT_S:g} s")
        finally:
            receiver.cancel()


async def _receive_frame_bytes(socket: WebSocket) -> bytes:
    """The next binary message, within the idle time and the size limit.

    Raises:
        _Refusal: no message in time, a text message, or one too big.
        WebSocketDisconnect: the client went.
    """
    try:
        message = await asyncio.wait_for(socket.receive(), IDLE_TIMEOUT_S)
    except TimeoutError:
        raise _Refusal(CLOSE_POLICY, f"no picture came for {IDLE_TIMEOUT_S:g} s") from None
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000))
    data = message.get("bytes")
    if data is None:
        raise _Refusal(CLOSE_BAD_DATA, "a picture must come as a binary message")
    if len(data) > MAX_FRAME_BYTES:
        raise _Refusal(CLOSE_TOO_BIG, f"a message of {len(data)} bytes is over the {MAX_FRAME_BYTES} allowed")
    return data


async def _receive_frames(socket: WebSocket, waiting: _Waiting, ready: asyncio.Event) -> None:
    """Keep the newest frame in ``waiting``, replacing any not yet painted, until the client goes or fails."""
    try:
        while True:
            data = await _receive_frame_bytes(socket)
            if len(data) <= SEQUENCE.size:
                raise _Refusal(CLOSE_BAD_DATA, "a frame is a 4-byte sequence number and then an image")
            if waiting.frame is not None:
                waiting.dropped += 1
            waiting.frame = (SEQUENCE.unpack_from(data)[0], data[SEQUENCE.size :])
            ready.set()
    except _Refusal as refusal:
        waiting.refusal = refusal
    except WebSocketDisconnect:
        pass
    finally:
        waiting.closed = True
        ready.set()


async def _refuse(socket: WebSocket, code: int, detail: str) -> None:
    """Say why in a last message, and close."""
    try:
        await socket.send_json({"type": "error", "detail": detail})
        await socket.close(code, detail[:120])
    except (WebSocketDisconnect, RuntimeError):
        pass  # the client has gone already
