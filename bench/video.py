"""Video: speed, flicker and memory of `stylegram video` with a shipped style, plain against consistent.

    python bench/video.py [--model starry_night] [--temporal-strength 0.8] [--optimised-seconds 2]
                          [--one-pass adain wct] [--one-pass-seconds 4] [--skip-fast]

Clips: ``../shared/bench/video/bunny.mp4`` (640×360, 24 fps, 10 s, with sound) and one made here, a slow pan
and zoom across the Tübingen photo (640×360, 24 fps, 6 s), written to ``bench/results/video/pan.mp4``. For
each clip, plain per-frame stylization (``--no-temporal``) and the temporally consistent one: frames/s, then
``stylegram eval-video`` figures (warping error, the source's own, mean per-frame style distance). Peak memory
(RSS) of a run is measured in a child process for the 6 s and a 3× longer pan: streaming keeps it flat. The
one-pass engines (AdaIN, WCT) with the painting on bunny's first seconds and on a fast pan across a validation
photo, and the optimisation mode on bunny's first seconds at 256×144, plain and consistent. Frames 60–62 of
bunny, plain above consistent: ``docs/images/video_frames.jpg``.
Results: ``bench/results/video.json``; clips in ``bench/results/video/`` (not committed).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
from common import IMAGES, RESULTS, ROOT, machine, now, report, save
from PIL import Image

from stylegram.engines import engine_infos
from stylegram.evaluation import evaluate_video
from stylegram.io.video import VideoWriter, probe_video, read_frames
from stylegram.ops.flow import DEFAULT_TEMPORAL_STRENGTH
from stylegram.video import stylize_video

BUNNY = ROOT.parent / "shared" / "bench" / "video" / "bunny.mp4"
#: A validation photo (training/data.py's split) with fine detail everywhere: the fast pan's.
FAST_PAN_PHOTO = ROOT.parent / "shared" / "train" / "photos" / "sun_house.jpg"
OUT = RESULTS / "video"


def make_pan(path, seconds: float, fps: int = 24, size=(640, 360), photo: Path = IMAGES / "tubingen.jpg") -> None:
    """A camera moving across the photo and closing in, over ``seconds`` whatever their number (fewer: faster):
    smooth motion, parallax-free, known to be clean."""
    photo = Image.open(photo).convert("RGB")
    frames = round(seconds * fps)
    with VideoWriter(path, size, fps) as writer:
        for index in range(frames):
            t = index / max(1, frames - 1)
            width = photo.width * (0.75 - 0.15 * t)
            height = width * size[1] / size[0]
            left = (photo.width - width) * (0.1 + 0.8 * t)
            top = (photo.height - height) * 0.4
            crop = photo.resize(size, Image.Resampling.BILINEAR, box=(left, top, left + width, top + height))
            writer.write(np.asarray(crop))


CHILD = """
import json, resource, sys
from stylegram.video import stylize_video
result = stylize_video(sys.argv[1], sys.argv[2], model=sys.argv[3])
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
print(json.dumps({"frames": result.frames, "peak_rss_gb": round(peak, 3)}))
"""


def peak_memory(clip, model: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(clip), str(OUT / "memory.mp4"), model],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def frames_sheet(plain: Path, consistent: Path, first: int, count: int, path: Path) -> None:
    """Frames ``first … first+count−1`` side by side, plain on top, consistent below (what docs/video.md shows)."""
    rows = []
    for clip in (plain, consistent):
        frames = [frame for index, frame in enumerate(read_frames(clip)) if first <= index < first + count]
        rows.append(np.concatenate(frames, axis=1))
    Image.fromarray(np.concatenate(rows, axis=0)).save(path, quality=88)


def cut(source: Path, path: Path, frames: int, size: tuple[int, int]) -> Path:
    """The first ``frames`` frames of ``source`` at ``size``, without sound."""
    info = probe_video(source)
    with VideoWriter(path, size, info.fps) as writer:
        for index, frame in enumerate(read_frames(source, size)):
            if index == frames:
                break
            writer.write(frame)
    return path


def optimised_rows(style: Path, seconds: float) -> dict:
    """The optimisation mode (--style) on the first seconds of bunny at 256×144: per frame, then consistent."""
    clip = cut(BUNNY, OUT / "bunny_short.mp4", round(24 * seconds), (256, 144))
    row = {"clip": f"bunny, first {seconds:g} s, 256x144", "engine": "gatys"}
    return both_modes(row, clip, style, DEFAULT_TEMPORAL_STRENGTH, style=style)


def one_pass_rows(style: Path, engines: list[str], seconds: float) -> list[dict]:
    """The one-pass engines with the painting: bunny's first seconds and a fast pan across a validation photo
    (the whole sweep in 2 s, about 5 px a frame), plain and consistent."""
    fast_pan = OUT / "fast_pan.mp4"
    make_pan(fast_pan, 2, photo=FAST_PAN_PHOTO)
    clips = {f"bunny, first {seconds:g} s": cut(BUNNY, OUT / "bunny_start.mp4", round(24 * seconds), (640, 360)),
             "fast pan": fast_pan}  # fmt: skip
    return [
        both_modes({"clip": name, "engine": engine}, clip, style, DEFAULT_TEMPORAL_STRENGTH, style=style)
        for name, clip in clips.items()
        for engine in engines
    ]


def both_modes(row: dict, clip: Path, painting: Path, temporal_strength: float, **arguments) -> dict:
    """``row`` (its clip's name and engine) with the clip made plain and consistent by ``stylize_video(clip, …,
    engine=row["engine"], **arguments)``: frames/s and the eval-video figures of each, and how they compare."""
    for mode, strength in (("plain", 0.0), ("consistent", temporal_strength)):
        output = OUT / f"{clip.stem}__{row['engine']}__{mode}.mp4"
        result = stylize_video(clip, output, engine=row["engine"], temporal_strength=strength, **arguments)
        row[mode] = {
            "frames_per_second": round(result.frames_per_second, 2),
            "precision": result.options["precision"],
            **({"parallel_flow": result.options["parallel_flow"]} if "parallel_flow" in result.options else {}),
            **evaluate_video(clip, output, painting),
        }
        print(row["clip"], row["engine"], mode, json.dumps(row[mode]), flush=True)
    row.update(
        compare(row["plain"], row["consistent"]),
        machine=machine(),
        date=now(),
    )
    return row


def compare(plain: dict, consistent: dict) -> dict:
    return {
        "warping_error_reduction": round(1 - consistent["warping_error"] / plain["warping_error"], 3),
        "warping_error_vs_source": round(consistent["warping_error"] / consistent["source_warping_error"], 3),
        "style_distance_rise": round(consistent["style_distance"] / plain["style_distance"] - 1, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="starry_night")
    parser.add_argument("--temporal-strength", type=float, default=DEFAULT_TEMPORAL_STRENGTH)
    parser.add_argument("--optimised-seconds", type=float, default=2.0, help="of bunny, for gatys (0: keep the last)")
    parser.add_argument("--skip-fast", action="store_true", help="keep the last run's network rows and memory")
    parser.add_argument("--one-pass", nargs="*", default=["adain", "wct"],
                        help="engines with the painting (none: keep the last run's rows)")  # fmt: skip
    parser.add_argument("--one-pass-seconds", type=float, default=4.0, help="of bunny, for the one-pass engines")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    path = RESULTS / "video.json"
    previous = json.loads(path.read_text()) if path.exists() else {}
    style = IMAGES / f"{args.model}.jpg"

    def kept(engines: set[str]) -> list[dict]:
        """The last run's rows of ``engines``: a part skipped this time keeps its figures, and the machine and
        date they were taken on (for rows from before rows kept them, the file's)."""
        return [
            {"machine": previous["machine"], "date": previous["date"], **row}
            for row in previous.get("clips", [])
            if row.get("engine") in engines
        ]

    if args.skip_fast:
        clips, memory = kept({"fast"}), previous["memory"]
    else:
        clips, memory = fast_rows(args.model, args.temporal_strength, style)
    one_pass = {info.name for info in engine_infos(video="blend", style_input="paintings")}
    clips += one_pass_rows(style, args.one_pass, args.one_pass_seconds) if args.one_pass else kept(one_pass)
    clips += [optimised_rows(style, args.optimised_seconds)] if args.optimised_seconds else kept({"gatys"})
    save(report("video", model=args.model, temporal_strength=args.temporal_strength, clips=clips, memory=memory))


def fast_rows(model: str, temporal_strength: float, style: Path) -> tuple[list[dict], dict]:
    """Both clips with the trained style, plain and consistent; the frames sheet; memory for 6 and 18 s."""
    pan = OUT / "pan.mp4"
    make_pan(pan, 6)
    clips = [
        both_modes({"clip": name, "engine": "fast"}, source, style, temporal_strength, model=model)
        for name, source in (("bunny", BUNNY), ("pan", pan))
    ]
    frames_sheet(
        OUT / "bunny__fast__plain.mp4", OUT / "bunny__fast__consistent.mp4", 60, 3,
        ROOT / "docs" / "images" / "video_frames.jpg",
    )  # fmt: skip
    long_pan = OUT / "pan_long.mp4"
    make_pan(long_pan, 18)
    return clips, {"6 s": peak_memory(pan, model), "18 s": peak_memory(long_pan, model)}


if __name__ == "__main__":
    main()
