"""Throwaway: a per-frame temporal strength (the output's change along the flow kept to a multiple of the
source's) against the fixed 0.95, on cached plain frames, through H.264, judged by evaluate_video."""
import json, sys
from pathlib import Path
import cv2, numpy as np
sys.path.insert(0, "/work/main/bench")
from common import IMAGES, ROOT
from stylegram.evaluation import evaluate_video
from stylegram.io.video import VideoWriter, probe_video, read_frames
from stylegram.ops import flow as fl
from stylegram.video import BlendingPainter

OUT = ROOT / "bench/results/video"
clips = {"bunny": (ROOT.parent / "shared/bench/video/bunny.mp4", "fast"), "pan": (OUT / "pan.mp4", "fast"),
         "bunny_start": (OUT / "bunny_start.mp4", "adain"), "bunny_wct": (OUT / "bunny_start.mp4", "wct"), "fast_pan_wct": (OUT / "fast_pan.mp4", "wct"), "fast_pan": (OUT / "fast_pan.mp4", "adain")}
style = IMAGES / "starry_night.jpg"

class Adaptive(fl.TemporalBlender):
    def __init__(self, ratio, cap, ema=0, dead=0):
        super().__init__(cap); self.ratio = ratio; self.previous_source = None; self.used = []; self.ema = ema
        self.dead = dead; self.kept = []
    def __call__(self, source, stylized):
        grey = fl.to_grey(source)
        args = self._motion_arguments(grey)
        found = fl.motion(*args) if args else None
        output = stylized
        if found is not None:
            to_previous, trusted = found
            mask = trusted.view(np.uint8)
            warped = fl.warp(self.previous_output, to_previous, sharp=True)
            e_new = np.mean(cv2.mean(cv2.absdiff(stylized, warped), mask)[:3])
            e_src = np.mean(cv2.mean(cv2.absdiff(source, fl.warp(self.previous_source, to_previous)), mask)[:3])
            k = e_src / max(e_new, 1e-6)
            if self.ema:
                self.rate = k if getattr(self, "rate", None) is None else self.rate + (k - self.rate) / self.ema
                k = self.rate
            s = float(np.clip(1 - self.ratio * k, 0, self.strength))
            self.used.append(s)
            mixed = cv2.addWeighted(warped, s, stylized, 1 - s, 0, dtype=cv2.CV_32F)
            blended = stylized.astype(np.float32)
            cv2.copyTo(mixed, mask, blended)
            restored = fl.restore_detail(blended, stylized)
            output = np.clip(np.rint(restored), 0, 255).astype(np.uint8)
            if self.dead:
                still = trusted & (np.abs(to_previous).max(axis=2) < 0.25)
                close = cv2.absdiff(output, self.previous_output).max(axis=2) <= self.dead
                keep = still & close
                output[keep] = self.previous_output[keep]
                self.kept.append(float(keep.mean()))
        self.previous_grey, self.previous_output, self.previous_source = grey, output, source
        return output

def plain_frames(name):
    cache = Path(f"/tmp/exp/{name}.npy")
    if cache.exists():
        return np.load(cache)
    clip, engine = clips[name]
    painter = BlendingPainter(engine, style if engine != "fast" else None,
                              {"model": "starry_night"} if engine == "fast" else {}, 0.0)
    frames = np.stack([painter(f) for f in read_frames(clip)])
    np.save(cache, frames)
    return frames

def run(name, blender, tag):
    clip, _ = clips[name]
    info = probe_video(clip)
    out = Path(f"/tmp/exp/{name}__{tag}.mp4")
    with VideoWriter(out, (info.width, info.height), info.fps) as writer:
        for source, painted in zip(read_frames(clip), plain_frames(name), strict=True):
            writer.write(blender(source, painted) if blender else painted)
    figures = evaluate_video(clip, out, style)
    figures["ratio"] = round(figures["warping_error"] / figures["source_warping_error"], 3)
    if getattr(blender, "used", None):
        figures["mean_strength"] = round(float(np.mean(blender.used)), 3)
        if blender.kept:
            figures["kept_share"] = round(float(np.mean(blender.kept)), 3)
    return figures

from video import BUNNY, FAST_PAN_PHOTO, cut, make_pan
OUT.mkdir(parents=True, exist_ok=True)
if not (OUT / "pan.mp4").exists():
    make_pan(OUT / "pan.mp4", 6)
if not (OUT / "fast_pan.mp4").exists():
    make_pan(OUT / "fast_pan.mp4", 2, photo=FAST_PAN_PHOTO)
if not (OUT / "bunny_start.mp4").exists():
    cut(BUNNY, OUT / "bunny_start.mp4", 96, (640, 360))
names = sys.argv[1].split(",")
variants = [v for v in sys.argv[2:]]
for name in names:
    plain = run(name, None, "plain")
    print(name, "plain", plain, flush=True)
    for v in variants:
        if v == "fixed":
            b = fl.TemporalBlender(0.95)
        else:
            parts = list(map(float, v.split(":")))
            b = Adaptive(*parts[:2], int(parts[2]) if len(parts) > 2 else 0, parts[3] if len(parts) > 3 else 0)
        f = run(name, b, v)
        f["style_rise"] = round(f["style_distance"] / plain["style_distance"] - 1, 3)
        print(name, v, f, flush=True)
