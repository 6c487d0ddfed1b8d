"""Stylizing a video clip frame by frame, without flicker, keeping its sound.

The pipeline:

1. check the output path and probe the clip (a video stream, frames, limits) before any work,
2. choose the frame size (the clip's, or ``size``, even for H.264) and load the trained network,
3. stream the frames through a painter, one frame in memory at a time: a trained network → colour and strength →
   temporal blending (the previous output warped along the source's optical flow, where the flow is reliable);
   or the optimisation engine started from the previous result, warped, with a temporal loss (Ruder et al.),
   → encoder,
4. copy the source's audio into the new file and move it into place (nothing under the final name until then).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from stylegram.api import stylize
from stylegram.cpu import fit_threads
from stylegram.engines.base import (
    MIN_SIDE,
    ProgressCallback,
    ProgressEvent,
    check_fraction,
    check_pixels,
    describe_image,
    picture_size,
)
from stylegram.engines.fast import DEFAULT_MODEL, finish, load_model, run_network
from stylegram.engines.gatys import DEFAULT_TEMPORAL_WEIGHT
from stylegram.errors import InputError
from stylegram.io.image import ImageInput, check_output_path, load_image
from stylegram.io.video import VideoWriter, output_size, probe_video, read_frames
from stylegram.models.store import resolve_model
from stylegram.ops.color import COLOR_METHODS
from stylegram.ops.flow import DEFAULT_TEMPORAL_STRENGTH, TemporalBlender, motion, to_grey, warp
from stylegram.runtime import choose_precision, precision_name, resolve_device

#: Optimisation steps for a video's first frame and for each later one (which starts from the previous result).
DEFAULT_FIRST_FRAME_ITERATIONS, DEFAULT_FRAME_ITERATIONS = 100, 30


@dataclass
class VideoResult:
    """What :func:`stylize_video` wrote and how fast."""

    output: Path
    frames: int
    size: tuple[int, int]
    fps: Fraction
    has_audio: bool
    seconds: float
    options: dict

    @property
    def frames_per_second(self) -> float:
        return self.frames / self.seconds if self.seconds else 0.0


class NetworkPainter:
    """Frames through a trained network, then :class:`~stylegram.ops.flow.TemporalBlender`."""

    def __init__(self, model: str, target: torch.device, dtype: torch.dtype | None, options: dict) -> None:
        self.net, _ = load_model(resolve_model(model), target, dtype)
        self.target, self.options = target, options
        self.blender = TemporalBlender(options["temporal_strength"])

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        photo = torch.from_numpy(frame.copy()).permute(2, 0, 1)[None].float().div(255).to(self.target)
        picture = finish(run_network(self.net, photo), photo, self.options["color"], self.options["strength"])
        return self.blender(frame, (picture[0].permute(1, 2, 0).cpu().numpy() * 255).round().astype(np.uint8))


class OptimisingPainter:
    """Frames by the optimisation engine (Ruder et al. 2016): each frame starts from the previous result warped
    along the source's motion and is held to it by a temporal loss where the flow is reliable; the first frame
    gets ``first_iterations`` steps, the others ``iterations``."""

    def __init__(self, style: ImageInput, device: str, precision: str, seed: int, options: dict) -> None:
        self.style, self.options = style, options
        self.engine_options = {"device": device, "precision": precision, "seed": seed}
        self.previous: tuple[np.ndarray, np.ndarray] | None = None  # grey source, output

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        grey = to_grey(frame)
        side = max(frame.shape[:2])
        common = {"size": side, "scales": [side], "color": self.options["color"], **self.engine_options}
        if self.options["strength"] is not None:
            common["strength"] = self.options["strength"]
        if self.previous is None or self.options["temporal_strength"] == 0:
            result = stylize(Image.fromarray(frame), self.style, iterations=self.options["first_iterations"], **common)
        else:
            flow, trusted = motion(grey, self.previous[0])
            warped = Image.fromarray(warp(self.previous[1], flow, sharp=True))
            result = stylize(
                Image.fromarray(frame), self.style, iterations=self.options["iterations"], init=warped,
                temporal_target=warped, temporal_mask=Image.fromarray(trusted.astype(np.uint8) * 255),
                temporal_weight=DEFAULT_TEMPORAL_WEIGHT * self.options["temporal_strength"] / DEFAULT_TEMPORAL_STRENGTH,
                **common,
            )  # fmt: skip
        output = np.asarray(result.image)
        self.previous = (grey, output)
        return output


def stylize_video(
    source: str | Path,
    output: str | Path,
    *,
    model: str = DEFAULT_MODEL,
    style: ImageInput | None = None,
    size: int | None = None,
    temporal_strength: float = DEFAULT_TEMPORAL_STRENGTH,
    strength: float | None = None,
    color: str = "none",
    iterations: int = DEFAULT_FRAME_ITERATIONS,
    first_iterations: int = DEFAULT_FIRST_FRAME_ITERATIONS,
    seed: int = 0,
    precision: str = "auto",
    device: str = "auto",
    on_progress: ProgressCallback | None = None,
) -> VideoResult:
    """Repaint every frame of ``source`` and write an H.264 MP4 with the source's audio.

    With a trained style (``model``) a frame takes a fraction of a second; with a painting (``style``) each frame
    is optimised (seconds to minutes a frame: for short clips).

    Args:
        source: the clip.
        output: where to write the ``.mp4`` (atomically).
        model: a shipped style's name or a model file (see ``stylegram styles``); ignored when ``style`` is given.
        style: a painting: frames are made by the optimisation engine instead of a trained network.
        size: long side of the output frames; None keeps the clip's (made even).
        temporal_strength: how strongly each frame keeps to the previous one where the flow is reliable: for a
            network, the share of the warped previous output blended in; for optimisation, the temporal loss
            weight relative to its default. 0 gives plain per-frame stylization (flickers).
        strength: for a network, 1 its picture and 0 the photo (default 1); for optimisation, as in
            ``stylegram transfer`` (default 0.5).
        color: ``none``, ``luminance`` or ``match``: keep the clip's colours (optimisation: none or match).
        iterations / first_iterations: optimisation steps per frame, and for the first frame.
        seed: for optimisation.
        precision: ``auto``, ``fp32`` or ``bf16``.
        device: ``auto``, ``cpu`` or ``cuda``.
        on_progress: called after every frame (stage ``"video"``).
    """
    started = time.perf_counter()
    # 1. Check the output and the clip.
    output = check_output_path(output, suffixes=(".mp4",), inputs=[source, style, model])
    check_fraction("temporal strength", temporal_strength)
    if strength is not None:
        check_fraction("strength", strength)
    if color not in COLOR_METHODS:
        raise InputError(f"unknown colour method {color!r}; expected one of {', '.join(COLOR_METHODS)}")
    for name, value in (("iterations", iterations), ("first iterations", first_iterations)):
        if not isinstance(value, int) or value < 1:
            raise InputError(f"{name} must be a whole number of at least 1, got {value!r}")
    check_pixels("size", size, MIN_SIDE)
    info = probe_video(source)

    # 2. Frame size and painter.
    target = resolve_device(device)
    picture_size((info.width, info.height), size, "clip", target)
    frame_size = output_size(info, size)
    dtype = choose_precision(precision, target)
    precision_used = precision_name(dtype)
    options = {
        "source": str(Path(source).absolute()),
        "size": list(frame_size),
        "temporal_strength": temporal_strength,
        "strength": strength,
        "color": color,
        "precision": precision_used,
    }
    if style is None:
        options |= {"model": str(model), "strength": 1.0 if strength is None else strength}
        painter = NetworkPainter(model, target, dtype, options)
    else:
        load_image(style, what="style image")  # a bad painting fails now, not at the first frame
        options |= {"style": describe_image(style, absolute=True), "iterations": iterations,
                    "first_iterations": first_iterations, "seed": seed}  # fmt: skip
        painter = OptimisingPainter(style, device, precision_used, seed, options)

    # 3. Stream the frames through, one in memory at a time.
    count = 0
    with VideoWriter(output, frame_size, info.fps, audio_from=source) as writer:
        for frame in read_frames(source, frame_size):
            fit_threads()
            writer.write(painter(frame))
            count += 1
            if on_progress is not None:
                on_progress(ProgressEvent(count, info.frames, "video", {}, time.perf_counter() - started))

    # 4. Written and moved into place by the writer.
    return VideoResult(output, count, frame_size, info.fps, info.has_audio, time.perf_counter() - started, options)
