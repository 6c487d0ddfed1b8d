"""A long video in chunks over workers: wall time with 1 and 2 workers, and the warping error at the seams.

    python bench/video_chunks.py [--size 360] [--chunk-frames 64] [--style starry_night]

The bench clip (``../shared/bench/video/bunny.mp4``, 240 frames at 640×360, with sound) through the fast engine,
three ways, each a fresh server (``stylegram serve``, SQLite queue) on this machine:

* ``whole``: one ``POST /v1/jobs`` video job, one worker: the clip in one pass, the reference;
* ``chunks_1_worker`` / ``chunks_2_workers_warmup_N``: ``POST /v1/videos`` with ``--chunk-frames`` frames a
  chunk, each a job, with 1 worker, and with 2 workers for each of ``--warmups`` (frames blended in before a
  chunk); the result is joined when it is fetched (the join is in the wall time);
* ``cut_end_to_end`` (not timed, in this process): the same chunks without warm-up or shared frames, simply
  concatenated: what a naive split gives.

For each joined video the warping error (Lai et al. 2018, ``stylegram.evaluation.warping_errors``) is split
into the frame pairs around each seam (from the first frame two chunks share to the first frame after them)
and all the others, against the same split of the whole video and of the cut one. On 2 cores the two
workers share the machine: the gain is bounded by the cores, and by the frames made twice (warm-up and shared
frames). Results: ``bench/results/video_chunks.json``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import httpx2
import numpy as np
from common import ROOT, report, save

from stylegram.evaluation import warping_errors
from stylegram.io.video import probe_video
from stylegram.server.process import server_process
from stylegram.video import DEFAULT_OVERLAP, DEFAULT_WARMUP, join_chunks, plan_chunks, stylize_video

CLIP = ROOT.parent / "shared" / "bench" / "video" / "bunny.mp4"


def wait_for(client: httpx2.Client, url: str, timeout_s: float = 1800) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        record = client.get(url).json()
        if record.get("finished") or record.get("status") in ("done", "failed", "cancelled"):
            return record
        time.sleep(0.5)
    raise SystemExit(f"{url} did not finish in {timeout_s} s")


def run(folder: Path, workers: int, fields: dict, chunked: bool, output: Path) -> float:
    """Seconds from the upload to the whole video fetched, on a fresh server with ``workers`` workers."""
    with server_process(folder / f"data-{output.stem}", "--workers", str(workers)) as server:
        client = httpx2.Client(base_url=server.url, timeout=600)
        started = time.perf_counter()
        files = {"content": ("bunny.mp4", CLIP.read_bytes())}
        submitted = client.post("/v1/videos" if chunked else "/v1/jobs", files=files, data=fields)
        submitted.raise_for_status()
        record = submitted.json()
        done = wait_for(client, f"/v1/{'batches' if chunked else 'jobs'}/{record['id']}")
        result = client.get(done["result_url"])
        result.raise_for_status()
        output.write_bytes(result.content)
        return time.perf_counter() - started


def seam_split(errors: list[float], chunks: list) -> dict:
    """Mean warping error of the pairs around the seams and of the others (pair i: frame i + 1 after i)."""
    seams = set()
    for chunk in chunks[1:]:
        seams.update(range(max(0, chunk.start - 1), chunk.start + max(1, chunk.overlap)))
    around = [error for index, error in enumerate(errors) if index in seams]
    inside = [error for index, error in enumerate(errors) if index not in seams]
    return {"seams": round(float(np.mean(around)), 6), "inside": round(float(np.mean(inside)), 6),
            "seam_pairs": len(around)}  # fmt: skip


def cut_end_to_end(output: Path, args: argparse.Namespace) -> list:
    """The naive split, in this process: chunks of ``--chunk-frames`` without warm-up or shared frames, simply
    concatenated (the seams the issue asks to avoid)."""
    parts = []
    for chunk in plan_chunks(probe_video(CLIP).frames, args.chunk_frames, overlap=0):
        path = output.with_name(f"cut{chunk.start}.mp4")
        stylize_video(CLIP, path, model=args.style, size=args.size, frames=(chunk.start, chunk.stop), warmup=0)
        parts.append((chunk, path))
    join_chunks(parts, CLIP, output)
    return [chunk for chunk, _ in parts]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=360, help="long side of the frames")
    parser.add_argument("--chunk-frames", type=int, default=64)
    parser.add_argument("--style", default="starry_night")
    parser.add_argument("--warmups", default=f"8,{DEFAULT_WARMUP}", help="warm-up frames to try with 2 workers")
    args = parser.parse_args()
    warmups = [int(frames) for frames in args.warmups.split(",")]
    fields = {"style": args.style, "size": args.size}
    chunked = {**fields, "chunk_frames": args.chunk_frames}
    result = report("video_chunks", clip=str(CLIP.relative_to(ROOT.parent)), size=args.size, style=args.style,
                    chunk_frames=args.chunk_frames, warmup=DEFAULT_WARMUP, overlap=DEFAULT_OVERLAP)  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="stylegram-video-chunks-") as name:
        folder = Path(name)
        videos = {
            "whole": (1, fields, False),
            "chunks_1_worker": (1, chunked, True),
            **{f"chunks_2_workers_warmup_{frames}": (2, {**chunked, "warmup": frames}, True) for frames in warmups},
        }
        seconds = {}
        for label, (workers, form, is_chunked) in videos.items():
            seconds[label] = round(run(folder, workers, form, is_chunked, folder / f"{label}.mp4"), 2)
            print(label, seconds[label], "s", flush=True)
        frames = probe_video(CLIP).frames
        overlap = min(DEFAULT_OVERLAP, frames // 4)  # as the server plans them
        chunks = plan_chunks(frames, args.chunk_frames, overlap)
        cut = cut_end_to_end(folder / "cut_end_to_end.mp4", args)
        errors = {label: warping_errors(CLIP, folder / f"{label}.mp4")[0] for label in [*seconds, "cut_end_to_end"]}
        # Each video's seams where its own chunks meet; the whole video measured at the chunked one's seams.
        seams = {label: cut if label == "cut_end_to_end" else chunks for label in errors}
        result["seconds"] = seconds
        two = seconds[f"chunks_2_workers_warmup_{DEFAULT_WARMUP}"]
        result["speedup_2_workers_over_1"] = round(seconds["chunks_1_worker"] / two, 2)
        result["speedup_2_workers_over_whole"] = round(seconds["whole"] / two, 2)
        result["warping_error"] = {label: seam_split(values, seams[label]) for label, values in errors.items()}
    save(result)


if __name__ == "__main__":
    main()
