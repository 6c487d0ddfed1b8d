"""Stylizing a video clip frame by frame, without flicker, keeping its sound.

The pipeline:

1. check the output path and probe the clip (a video stream, frames, limits) before any work,
2. choose the frame size (the clip's, or ``size``, even for H.264) and load the trained network,
3. stream the frames: network → colour and strength → temporal blending (the previous output warped along the
   source's optical flow, where the flow is reliable) → encoder; one frame in memory at a time,
4. copy the source's audio into the new file and move it into place (nothing under the final name until then).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch

from stylegram.engines.base import ProgressCallback, ProgressEvent, check_fraction
from stylegram.engines.fast import DEFAULT_MODEL, finish, load_model, run_network
from stylegram.errors import InputError
from stylegram.io.image import check_output_path
from stylegram.io.video import VideoWriter, output_size, probe_video, read_frames
from stylegram.models.store import resolve_model
from stylegram.ops.color import COLOR_METHODS
from stylegram.ops.flow import TemporalBlender
from stylegram.runtime import choose_precision, resolve_device

DEFAULT_TEMPORAL_STRENGTH = 0.6


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


def stylize_video(
    source: str | Path,
    output: str | Path,
    *,
    model: str = DEFAULT_MODEL,
    size: int | None = None,
    temporal_strength: float = DEFAULT_TEMPORAL_STRENGTH,
    strength: float = 1.0,
    color: str = "none",
    precision: str = "auto",
    device: str = "auto",
    on_progress: ProgressCallback | None = None,
) -> VideoResult:
    """Repaint every frame of ``source`` with a trained style and write an H.264 MP4 with the source's audio.

    Args:
        source: the clip.
        output: where to write the ``.mp4`` (atomically).
        model: a shipped style's name or a model file (see ``stylegram styles``).
        size: long side of the output frames; None keeps the clip's (made even).
        temporal_strength: how much of the previous output, warped along the motion, goes into each frame where
            the flow is reliable; 0 gives plain per-frame stylization (flickers).
        strength: 1 the network's picture, 0 the photo.
        color: ``none``, ``luminance`` or ``match``: keep the clip's colours.
        precision: ``auto``, ``fp32`` or ``bf16``.
        device: ``auto``, ``cpu`` or ``cuda``.
        on_progress: called after every frame (stage ``"video"``).
    """
    started = time.perf_counter()
    # 1. Check the output and the clip.
    output = check_output_path(output, suffixes=(".mp4",))
    check_fraction("temporal strength", temporal_strength)
    check_fraction("strength", strength)
    if color not in COLOR_METHODS:
        raise InputError(f"unknown colour method {color!r}; expected one of {', '.join(COLOR_METHODS)}")
    info = probe_video(source)

    # 2. Frame size and network.
    frame_size = output_size(info, size)
    target = resolve_device(device)
    model_path = resolve_model(model)
    dtype = choose_precision(precision, target)
    net, _ = load_model(model_path, target, dtype)
    blender = TemporalBlender(temporal_strength)

    # 3. Stream the frames through.
    count = 0
    with VideoWriter(output, frame_size, info.fps, audio_from=source) as writer:
        for frame in read_frames(source, frame_size):
            photo = torch.from_numpy(frame.copy()).permute(2, 0, 1)[None].float().div(255).to(target)
            picture = finish(run_network(net, photo), photo, color, strength)
            stylized = (picture[0].permute(1, 2, 0).cpu().numpy() * 255).round().astype(np.uint8)
            writer.write(blender(frame, stylized))
            count += 1
            if on_progress is not None:
                on_progress(ProgressEvent(count, info.frames, "video", {}, time.perf_counter() - started))

    # 4. Written and moved into place by the writer.
    options = {
        "source": str(Path(source).absolute()),
        "model": str(model),
        "size": list(frame_size),
        "temporal_strength": temporal_strength,
        "strength": strength,
        "color": color,
        "precision": "bf16" if dtype == torch.bfloat16 else "fp32",
    }
    return VideoResult(output, count, frame_size, info.fps, info.has_audio, time.perf_counter() - started, options)
