"""Video: what the optical flow costs and what it buys, for the temporally consistent fast style.

    python bench/video_flow.py [--model starry_night] [--frames 96] [--variants medium fast ...]

The flow is most of a consistent frame's time: at 640×360 the forward–backward test runs two DIS flows. Each
variant below changes only how the motion is found (DIS settings, the backward flow at a lower resolution, the
one-flow frame match, a reduced flow size) and paints bunny's first ``--frames`` frames and the fast pan of
bench/video.py with the same style; for each: one DIS flow's time with its settings on bunny's full-size
frames, the painting's frames/s, and the ``eval-video`` figures (warping error against the source's own, the
style distance's rise over plain frame by frame). DIS's settings are swapped in for the run
(``ops.flow._dis``); ``eval-video`` always measures with stylegram's own flow. Results:
``bench/results/video_flow.json``.
"""

from __future__ import annotations

import argparse
import functools
import itertools
import time
from dataclasses import dataclass

import cv2
import numpy as np
from common import IMAGES, report, save
from video import BUNNY, FAST_PAN_PHOTO, OUT, compare, cut, make_pan

from stylegram.evaluation import evaluate_video
from stylegram.io.video import read_frames
from stylegram.ops import flow
from stylegram.video import stylize_video


@dataclass(frozen=True)
class Variant:
    """How a variant finds the motion: DIS's settings (finest scale, patch size, patch stride, gradient descent
    and variational refinement iterations), the flow's scale, the frame match's tolerance (None: the
    forward–backward test) and the backward flow's scale for that test."""

    dis: tuple[int, int, int, int, int] = (1, 8, 3, 25, 5)  # OpenCV's MEDIUM preset, stylegram's
    scale: float = 1.0
    tolerance: float | None = None
    backward_scale: float = 1.0


VARIANTS = {
    "medium": Variant(),
    "medium, match": Variant(tolerance=flow.MATCH_TOLERANCE),
    "medium, 12 descent steps": Variant(dis=(1, 8, 3, 12, 5)),
    "medium, stride 4, 12 descent steps": Variant(dis=(1, 8, 4, 12, 5)),
    "medium, stride 4, 12 descent, 2 refinement": Variant(dis=(1, 8, 4, 12, 2)),
    "medium, backward flow at half size": Variant(backward_scale=0.5),
    "medium at half size": Variant(scale=0.5),
    "fast": Variant(dis=(2, 8, 4, 16, 5)),
    "fast, match": Variant(dis=(2, 8, 4, 16, 5), tolerance=flow.MATCH_TOLERANCE),
    "ultrafast": Variant(dis=(2, 8, 4, 12, 0)),
}


def dis(settings: tuple[int, int, int, int, int]) -> cv2.DISOpticalFlow:
    finest, patch, stride, descent, refinement = settings
    made = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    made.setFinestScale(finest)
    made.setPatchSize(patch)
    made.setPatchStride(stride)
    made.setGradientDescentIterations(descent)
    made.setVariationalRefinementIterations(refinement)
    return made


def motion_of(variant: Variant):
    """``ops.flow.motion`` as the variant finds it (the blender calls it with its own scale and tolerance)."""
    stylegram_motion = flow.motion

    def motion(current, previous, scale=1.0, tolerance=None):
        if variant.backward_scale == 1:
            return stylegram_motion(current, previous, variant.scale, variant.tolerance)
        height, width = current.shape
        size = (round(width * variant.backward_scale), round(height * variant.backward_scale))
        small_current, small_previous = (
            cv2.resize(grey, size, interpolation=cv2.INTER_AREA) for grey in (current, previous)
        )
        backward = cv2.resize(flow.optical_flow(small_previous, small_current), (width, height))
        to_previous = flow.optical_flow(current, previous)
        return to_previous, flow.reliable(to_previous, backward / np.float32(variant.backward_scale))

    return motion


def flow_milliseconds(settings, greys: list[np.ndarray]) -> float:
    finder = dis(settings)
    finder.calc(greys[1], greys[0], None)
    started = time.perf_counter()
    for previous, current in itertools.pairwise(greys):
        finder.calc(current, previous, None)
    return 1000 * (time.perf_counter() - started) / (len(greys) - 1)


def run(name: str, variant: Variant | None, clips: dict, painting, model: str, plain: dict) -> dict:
    """One variant on every clip (None: plain frame by frame, the baseline the others compare with)."""
    row: dict = {"variant": name}
    stylegram_dis, stylegram_motion = flow._dis, flow.motion
    for clip, path in clips.items():
        if variant is not None:
            flow._dis = functools.cache(lambda size, settings=variant.dis: dis(settings))
            flow.motion = motion_of(variant)
        try:
            output = OUT / f"flow__{clip}.mp4"
            strength = 0.0 if variant is None else flow.DEFAULT_TEMPORAL_STRENGTH
            result = stylize_video(path, output, model=model, temporal_strength=strength)
        finally:
            flow._dis, flow.motion = stylegram_dis, stylegram_motion
        figures = {"frames_per_second": round(result.frames_per_second, 2), **evaluate_video(path, output, painting)}
        row[clip] = figures if variant is None else {**figures, **compare(plain[clip], figures)}
        print(name, clip, row[clip], flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="starry_night")
    parser.add_argument("--frames", type=int, default=96, help="of bunny")
    parser.add_argument("--variants", nargs="*", choices=list(VARIANTS), default=list(VARIANTS))
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    painting = IMAGES / f"{args.model}.jpg"
    clips = {"bunny": cut(BUNNY, OUT / f"bunny_{args.frames}.mp4", args.frames, (640, 360)),
             "fast pan": OUT / "fast_pan.mp4"}  # fmt: skip
    make_pan(clips["fast pan"], 2, photo=FAST_PAN_PHOTO)
    greys = [flow.to_grey(frame) for frame, _ in zip(read_frames(clips["bunny"]), range(25), strict=False)]
    plain = run("plain", None, clips, painting, args.model, {})
    rows = [plain]
    for name in args.variants:
        variant = VARIANTS[name]
        row = run(name, variant, clips, painting, args.model, plain)
        rows.append(
            {
                "one_flow_ms_at_full_size": round(flow_milliseconds(variant.dis, greys), 1),
                **row,
                "settings": variant.__dict__,
            }
        )
    save(report("video_flow", model=args.model, frames=args.frames, size=[640, 360], variants=rows))


if __name__ == "__main__":
    main()
