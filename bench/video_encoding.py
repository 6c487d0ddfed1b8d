"""Video: how much of a consistent clip's warping error the H.264 file adds.

    python bench/video_encoding.py [--engine adain] [--frames 240] [--crf 20 17 14]

``stylegram eval-video`` measures the file, as a viewer sees it. Here the same frames are measured twice: as the
painter made them (RGB, before any encoding) and after ``VideoWriter``'s H.264 at each ``--crf`` (20 is what
``stylegram video`` writes), for frame-by-frame painting and for the temporally consistent one. Clip: bunny
re-encoded at 640×360 without sound (as bench/video.py's one-pass rows), painting: the Starry Night; the
warping error is Lai et al.'s, against the source's own, with eval-video's flow and forward–backward test. The
style distance is of every 10th frame before encoding. Results: ``bench/results/video_encoding.json``.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
from common import IMAGES, report, save
from PIL import Image
from video import BUNNY, OUT, cut

from stylegram.evaluation import evaluate
from stylegram.io.video import VideoWriter, probe_video, read_frames
from stylegram.ops.flow import DEFAULT_TEMPORAL_STRENGTH, TemporalBlender, frame_difference, motion, to_grey
from stylegram.video import BlendingPainter

PAINTING = IMAGES / "starry_night.jpg"  # as bench/video.py's


def warping_error(frames: np.ndarray, motions: list[tuple[np.ndarray, np.ndarray]]) -> float:
    """Mean warping error of consecutive ``frames`` along the source's ``motions`` (flow and reliable mask)."""
    return float(np.mean([frame_difference(frames[i - 1], frames[i], *motions[i - 1]) for i in range(1, len(frames))]))


def through_h264(frames: np.ndarray, fps, crf: int) -> tuple[np.ndarray, int]:
    """``frames`` as read back from an H.264 file written at ``crf``, and the file's size in bytes."""
    path = Path(tempfile.mkdtemp(prefix="encoding-")) / "clip.mp4"
    with VideoWriter(path, (frames.shape[2], frames.shape[1]), fps, crf=crf) as writer:
        for frame in frames:
            writer.write(frame)
    return np.stack(list(read_frames(path))), path.stat().st_size


def style_distance(frames: np.ndarray) -> float:
    outputs = evaluate([Image.fromarray(frame) for frame in frames[::10]], style=PAINTING).outputs
    return float(np.mean([output["style_distance"] for output in outputs]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine", default="adain")
    parser.add_argument("--frames", type=int, default=240)
    parser.add_argument("--crf", type=int, nargs="+", default=[20, 17, 14])
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    clip = cut(BUNNY, OUT / "bunny_whole.mp4", args.frames, (640, 360))
    fps = probe_video(clip).fps
    source = np.stack(list(read_frames(clip)))
    greys = [to_grey(frame) for frame in source]
    motions = [motion(greys[i], greys[i - 1]) for i in range(1, len(greys))]
    floor = warping_error(source, motions)
    painter = BlendingPainter(args.engine, PAINTING, {"device": "cpu"}, 0.0)
    plain = np.stack([painter(frame) for frame in source])
    blender = TemporalBlender(DEFAULT_TEMPORAL_STRENGTH)
    consistent = np.stack([blender(frame, painted) for frame, painted in zip(source, plain, strict=True)])
    rows = {}
    for mode, frames in (("plain", plain), ("consistent", consistent)):
        row = {"before_encoding": round(warping_error(frames, motions) / floor, 3),
               "style_distance": round(style_distance(frames), 4)}  # fmt: skip
        for crf in args.crf:
            decoded, size = through_h264(frames, fps, crf)
            row[f"crf_{crf}"] = {"warping_error_vs_source": round(warping_error(decoded, motions) / floor, 3),
                                 "megabytes": round(size / 1e6, 2)}  # fmt: skip
        rows[mode] = row
        print(mode, row, flush=True)
    result = report(
        "video_encoding",
        engine=args.engine,
        clip="bunny, re-encoded, 640x360",
        frames=len(source),
        temporal_strength=DEFAULT_TEMPORAL_STRENGTH,
        source_warping_error=round(floor, 6),
        modes=rows,
    )
    save(result)


if __name__ == "__main__":
    main()
