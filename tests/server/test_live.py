"""The live stream (``/v1/live``) with a test client: frames painted and answered by number, frames dropped and
never queued when the server is busy, each stream its own, bad input answered in one message, the token."""

import contextlib
import io
import json
import struct
import threading
import time

import numpy as np
import pytest
import uvicorn
from PIL import Image
from starlette.websockets import WebSocketDisconnect
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from stylegram.server import ServiceSettings, create_app, live
from stylegram.server.live import CLOSE_BAD_DATA, CLOSE_POLICY, CLOSE_TOO_BIG, CLOSE_TRY_LATER, MAX_FRAME_BYTES
from stylegram.server.process import free_port

from .conftest import local_client

#: By the name the host check lets through (the test client says "testserver" unless told).
LIVE = "ws://localhost/v1/live"
FAST = {"style": "starry_night", "size": 96}


def jpeg(seed: int, size=(96, 64)) -> bytes:
    """A textured frame: a square that moves right by 2 px a frame over fixed noise."""
    picture = np.random.default_rng(0).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    picture[20:40, 10 + 2 * seed : 30 + 2 * seed] = (240, 40, 40)
    buffer = io.BytesIO()
    Image.fromarray(picture).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def frame(seq: int, data: bytes) -> bytes:
    return struct.pack(">I", seq) + data


def painted(socket) -> tuple[dict, Image.Image]:
    """The next painted frame: its report, then its picture (numbered like the report)."""
    report = socket.receive_json()
    assert report["type"] == "frame", report
    data = socket.receive_bytes()
    assert struct.unpack(">I", data[:4])[0] == report["seq"]
    return report, Image.open(io.BytesIO(data[4:]))


def refused(socket) -> tuple[str, int]:
    """The last message before the server closes, and the close code."""
    message = socket.receive_json()
    assert message["type"] == "error"
    with pytest.raises(WebSocketDisconnect) as closed:
        socket.receive_json()
    return message["detail"], closed.value.code


@pytest.fixture
def settings(tmp_path) -> ServiceSettings:
    return ServiceSettings(data_dir=tmp_path / "data")


def test_a_stream_paints_every_frame_it_is_sent_one_at_a_time(client, app):
    with client.websocket_connect(LIVE) as socket:
        socket.send_text(json.dumps(FAST))
        assert socket.receive_json()["type"] == "ready"
        assert app.state.live.streams == 1
        for seq in (1, 2, 3):
            socket.send_bytes(frame(seq, jpeg(seq)))
            report, picture = painted(socket)
            assert report["seq"] == seq and report["dropped"] == 0 and report["paint_ms"] > 0
            assert picture.format == "JPEG" and picture.size == (96, 64)
            source = np.asarray(Image.open(io.BytesIO(jpeg(seq))), dtype=np.float32)
            assert np.abs(np.asarray(picture, dtype=np.float32) - source).mean() > 20  # repainted, not echoed
    deadline = time.monotonic() + 5
    while app.state.live.streams and time.monotonic() < deadline:  # the server notices the close
        time.sleep(0.01)
    assert app.state.live.streams == 0


def test_frames_that_arrive_while_the_server_is_busy_replace_each_other(client, app):
    with client.websocket_connect(LIVE) as socket:
        socket.send_text(json.dumps(FAST))
        socket.receive_json()
        release = threading.Event()
        app.state.live.painting_thread.submit(release.wait)  # the painting thread is busy elsewhere
        for seq in range(1, 7):
            socket.send_bytes(frame(seq, jpeg(seq)))
        time.sleep(0.5)  # every frame has been read by the server
        release.set()
        reports = []
        while not reports or reports[-1]["seq"] != 6:
            reports.append(painted(socket)[0])
    # The first frame was taken before the thread was free, the newest waited; the four between were dropped.
    assert [report["seq"] for report in reports] == [1, 6]
    assert reports[-1]["dropped"] == 4


def test_streams_keep_their_own_state_and_a_painting_can_be_sent(client):
    painting = io.BytesIO()
    Image.open("examples/images/starry_night.jpg").resize((128, 100)).save(painting, "PNG")
    with client.websocket_connect(LIVE) as fast, client.websocket_connect(LIVE) as adain:
        fast.send_text(json.dumps(FAST))
        adain.send_text(json.dumps({"engine": "adain", "painting": True, "size": 96}))
        adain.send_bytes(painting.getvalue())
        assert fast.receive_json()["type"] == adain.receive_json()["type"] == "ready"
        fast.send_bytes(frame(7, jpeg(0)))
        adain.send_bytes(frame(1, jpeg(0)))
        (fast_report, fast_picture), (adain_report, adain_picture) = painted(fast), painted(adain)
        assert (fast_report["seq"], adain_report["seq"]) == (7, 1)
        difference = np.abs(np.asarray(fast_picture, np.float32) - np.asarray(adain_picture, np.float32)).mean()
        assert difference > 10  # two different painters


def test_a_bad_frame_is_answered_and_the_stream_goes_on(client):
    with client.websocket_connect(LIVE) as socket:
        socket.send_text(json.dumps(FAST))
        socket.receive_json()
        socket.send_bytes(frame(1, b"not a picture at all"))
        answer = socket.receive_json()
        detail = "the frame is not an image (JPEG, PNG, WebP, BMP or TIFF)"
        assert answer == {"type": "error", "seq": 1, "detail": detail}
        socket.send_bytes(frame(2, jpeg(2)))
        assert painted(socket)[0]["seq"] == 2


@pytest.mark.parametrize(
    ("first", "expected"),
    [
        ("hello", "the first message must be the stream's choice, as JSON"),
        (json.dumps({"style": "no_such_style"}), "unknown style 'no_such_style'"),
        (json.dumps({"engine": "gatys", "style": "starry_night"}), "engine 'gatys' does not paint live"),
        (json.dumps({"style": "starry_night", "size": 100000}), "over this server's live limit"),
        (json.dumps({"engine": "adain"}), "needs either a shipped style's name or a painting"),
        (json.dumps({"style": "starry_night", "colour": "red"}), "a bad live request: colour"),
    ],
)
def test_a_bad_request_is_refused_in_one_message(client, first, expected):
    with client.websocket_connect(LIVE) as socket:
        socket.send_text(first)
        detail, code = refused(socket)
    assert expected in detail and code == CLOSE_BAD_DATA


def test_text_where_a_frame_belongs_and_an_oversized_frame_end_the_stream(client):
    with client.websocket_connect(LIVE) as socket:
        socket.send_text(json.dumps(FAST))
        socket.receive_json()
        socket.send_text("a frame")
        assert refused(socket) == ("a picture must come as a binary message", CLOSE_BAD_DATA)
    with client.websocket_connect(LIVE) as socket:
        socket.send_text(json.dumps(FAST))
        socket.receive_json()
        socket.send_bytes(frame(1, bytes(MAX_FRAME_BYTES + 1)))
        detail, code = refused(socket)
    assert "over the" in detail and code == CLOSE_TOO_BIG


def test_a_painting_too_small_is_refused(client):
    tiny = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 100, 50)).save(tiny, "PNG")
    with client.websocket_connect(LIVE) as socket:
        socket.send_text(json.dumps({"engine": "wct", "painting": True}))
        socket.send_bytes(tiny.getvalue())
        detail, code = refused(socket)
    assert "the painting is 8x8" in detail and code == CLOSE_BAD_DATA


def test_the_token_guards_the_stream_and_streams_are_limited(tmp_path):
    settings = ServiceSettings(data_dir=tmp_path, token="sesame", max_live_streams=1)
    with local_client(create_app(settings, collect=False)) as client:
        with client.websocket_connect(LIVE) as socket:
            assert refused(socket) == ("this server needs an API token: ?token=<token>", CLOSE_POLICY)
        with client.websocket_connect(f"{LIVE}?token=sesame") as first:
            first.send_text(json.dumps(FAST))
            assert first.receive_json()["type"] == "ready"
            with client.websocket_connect(f"{LIVE}?token=sesame") as second:
                detail, code = refused(second)
            assert "try again later" in detail and code == CLOSE_TRY_LATER


def test_a_page_of_another_site_cannot_open_a_stream(tmp_path):
    app = create_app(ServiceSettings(data_dir=tmp_path), collect=False)
    with (
        local_client(app) as client,
        pytest.raises(WebSocketDisconnect) as refused_handshake,
        client.websocket_connect(LIVE, headers={"origin": "https://elsewhere.example"}),
    ):
        pass
    assert refused_handshake.value.code == CLOSE_POLICY


@pytest.fixture
def real_server(tmp_path, monkeypatch):
    """The app behind uvicorn on loopback (real sockets, so a client that stops reading holds the server up), with
    a short send timeout."""
    monkeypatch.setattr(live, "SEND_TIMEOUT_S", 1.0)
    app = create_app(ServiceSettings(data_dir=tmp_path / "data"), collect=False)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield app, f"ws://127.0.0.1:{port}/v1/live"
    server.should_exit = True
    thread.join(timeout=10)


def test_a_client_that_never_reads_is_closed_and_others_are_still_served(real_server):
    app, url = real_server
    big = jpeg(0, size=(640, 360))
    # max_queue=1: the client takes one message off the socket and then reads no more.
    with connect(url, max_queue=1) as stuck, connect(url) as reader:
        stuck.send(json.dumps({"style": "starry_night", "size": 640}))
        reader.send(json.dumps(FAST))
        assert json.loads(reader.recv())["type"] == "ready"
        deadline = time.monotonic() + 60
        sent = 0
        while app.state.live.streams == 2 and time.monotonic() < deadline:
            with contextlib.suppress(ConnectionClosed):
                stuck.send(frame(sent, big))  # stylized frames pile up unread until the server gives up on it
            sent += 1
            time.sleep(0.02)
        assert app.state.live.streams == 1, "the stream that is never read was not closed"
        reader.send(frame(1, jpeg(1)))
        assert json.loads(reader.recv())["seq"] == 1
        assert struct.unpack(">I", reader.recv()[:4])[0] == 1
