"""Live streams: frames per second, latency and dropped frames of ``/v1/live`` driven like a camera.

    python bench/live.py [--seconds 20] [--style starry_night]

A ``stylegram serve`` (no workers: live streams are painted by the server) is sent the frames of
``../shared/bench/video/bunny.mp4`` at 640×360 as JPEGs, at the clip's own rate (24 frames/s) and looped, as a
camera would. Like the web page, a client sends a camera frame only while fewer than ``in_flight`` of its
frames are unanswered, and skips it otherwise. For each run: the frames/s shown, the latency from a frame's
capture to its stylized picture's arrival (median and 95th percentile), the server's mean painting time, and
frames dropped by the server and skipped by the client. Runs: the fast style with one and two frames in
flight, two viewers of the fast style at once, AdaIN and WCT with the style's painting.
Results: ``bench/results/live.json``.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import struct
import tempfile
import threading
import time
from pathlib import Path

from common import ROOT, report, save
from PIL import Image
from websockets.sync.client import connect

from stylegram.io.video import probe_video, read_frames
from stylegram.server.process import server_process

BUNNY = ROOT.parent / "shared" / "bench" / "video" / "bunny.mp4"
SIZE = (640, 360)
SEQUENCE = struct.Struct(">I")


def camera_frames(source: Path) -> list[bytes]:
    """The clip's frames at 640×360 as the page sends them (JPEG, quality 80)."""
    frames = []
    for frame in read_frames(source, SIZE):
        buffer = io.BytesIO()
        Image.fromarray(frame).save(buffer, "JPEG", quality=80)
        frames.append(buffer.getvalue())
    return frames


def stream(url: str, choice: dict, frames: list[bytes], fps: float, seconds: float, in_flight: int) -> dict:
    """One viewer for ``seconds``: the camera's frames at ``fps``, at most ``in_flight`` unanswered."""
    sent: dict[int, float] = {}
    latencies, paint_ms, arrivals = [], [], []
    skipped, last_report = 0, {}
    lock = threading.Lock()
    with connect(url, max_size=2**24) as socket:
        socket.send(json.dumps(choice))
        ready = json.loads(socket.recv())
        assert ready["type"] == "ready", ready
        stop = threading.Event()

        def camera() -> None:
            nonlocal skipped
            started, index = time.perf_counter(), 0
            while not stop.is_set():
                due = started + index / fps
                time.sleep(max(0.0, due - time.perf_counter()))
                with lock:
                    full = len(sent) >= in_flight
                    if not full:
                        sent[index] = time.perf_counter()
                if full:
                    skipped += 1
                else:
                    socket.send(SEQUENCE.pack(index) + frames[index % len(frames)])
                index += 1

        thread = threading.Thread(target=camera, daemon=True)
        began = time.perf_counter()
        thread.start()
        while time.perf_counter() - began < seconds:
            message = socket.recv()
            if isinstance(message, str):
                last_report = json.loads(message)
                if last_report["type"] == "frame":
                    paint_ms.append(last_report["paint_ms"])
                continue
            seq, now = SEQUENCE.unpack_from(message)[0], time.perf_counter()
            with lock:
                latencies.append(now - sent[seq])
                for earlier in [number for number in sent if number <= seq]:  # dropped ones are never answered
                    del sent[earlier]
            arrivals.append(now)
        stop.set()
        thread.join()
    settled = arrivals[len(arrivals) // 10 :]  # the first frames load the networks
    steady = latencies[len(latencies) // 10 :]
    return {
        "frames_shown": len(arrivals),
        "frames_per_second": round((len(settled) - 1) / (settled[-1] - settled[0]), 2),
        "latency_ms_p50": round(1000 * statistics.median(steady), 1),
        "latency_ms_p95": round(1000 * statistics.quantiles(steady, n=20)[-1], 1),
        "paint_ms_mean": round(statistics.fmean(paint_ms[len(paint_ms) // 10 :]), 1),
        "dropped_by_server": last_report.get("dropped", 0),
        "skipped_by_client": skipped,
    }


def viewers(url: str, choice: dict, frames, fps: float, seconds: float, in_flight: int, count: int) -> list[dict]:
    """``count`` viewers at once, each with its own camera."""
    results: list[dict] = [{}] * count

    def run(index: int) -> None:
        results[index] = stream(url, choice, frames, fps, seconds, in_flight)

    threads = [threading.Thread(target=run, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="of each run")
    parser.add_argument("--style", default="starry_night")
    args = parser.parse_args()
    frames, fps = camera_frames(BUNNY), float(probe_video(BUNNY).fps)
    fast = {"style": args.style, "size": SIZE[0]}
    runs = [
        ("fast, 1 in flight", fast, 1, 1),
        ("fast, 2 in flight", fast, 2, 1),
        ("fast, 2 viewers, 1 in flight each", fast, 1, 2),
        ("adain, 1 in flight", {**fast, "engine": "adain"}, 1, 1),
        ("wct, 1 in flight", {**fast, "engine": "wct"}, 1, 1),
    ]
    rows = []
    with tempfile.TemporaryDirectory() as folder, server_process(Path(folder) / "data", "--workers", "0") as server:
        url = server.url.replace("http://", "ws://") + "/v1/live"
        for name, choice, in_flight, count in runs:
            results = viewers(url, choice, frames, fps, args.seconds, in_flight, count)
            row = {"run": name, "viewers": results}
            print(json.dumps(row), flush=True)
            rows.append(row)
    save(report("live", clip=f"bunny, {SIZE[0]}x{SIZE[1]}, {fps:g} frames/s, looped", seconds=args.seconds, runs=rows))


if __name__ == "__main__":
    main()
