"""Stylizing a video clip frame by frame, without flicker, keeping its sound.

The pipeline:

1. check the output path and probe the clip (a video stream, frames, limits) before any work,
2. choose the frame size (the clip's, or ``size``, even for H.264) and load the trained network,
3. stream the frames through a painter, one frame in memory at a time: a trained network (``fast``) → colour
   and strength, or a one-pass engine with any painting (``adain``, ``wct``, ``efdm``) → temporal blending (the
   previous output warped along the source's optical flow, where the flow is reliable); or the optimisation
   engine (``gatys``) started from the previous result, warped, with a temporal loss (Ruder et al.) → encoder,
4. copy the source's audio into the new file and move it into place (nothing under the final name until then).

A long clip can be made in chunks by several workers (:func:`plan_chunks`, ``frames=`` and ``warmup=`` of
:func:`stylize_video`, :func:`join_chunks`): each chunk starts its temporal blending ``warmup`` frames early, so
its state has settled by its first frame, and shares ``overlap`` frames with the chunk before, across which the
join fades from one to the other (bench/video_chunks.py measures the seams).
"""

from __future__ import annotations

import time
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import Image

from stylegram.cpu import reserve_cpus, usable_cpus
from stylegram.engines import engine_info, engine_infos
from stylegram.engines.arbitrary import DEFAULT_STYLE_SIZE
from stylegram.engines.base import (
    MIN_SIDE,
    ProgressCallback,
    ProgressEvent,
    check_controls,
    check_fraction,
    check_pixels,
    describe_image,
    picture_size,
)
from stylegram.engines.fast import DEFAULT_MODEL
from stylegram.engines.gatys import DEFAULT_TEMPORAL_WEIGHT
from stylegram.errors import InputError
from stylegram.io.image import ImageInput, check_output_path, fit_long_side, load_image, resize
from stylegram.io.video import VideoWriter, output_size, probe_video, read_frames
from stylegram.ops.flow import DEFAULT_TEMPORAL_STRENGTH, FLOW_SCALE, TemporalBlender, motion, to_grey, warp
from stylegram.runtime import choose_precision, precision_name, resolve_device
from stylegram.transfer import stylize

#: Optimisation steps for a video's first frame and for each later one (which starts from the previous result).
DEFAULT_FIRST_FRAME_ITERATIONS, DEFAULT_FRAME_ITERATIONS = 100, 30


#: Frames a chunk stylizes before those it writes, and frames two chunks share and the join fades across. The
#: blending keeps 0.95 of the previous frame where the flow holds, so a chunk's start forgets slowly: with 8
#: frames of warm-up the bench clip's seams had 14 % more warping error than the frames inside the chunks, with
#: 40 none (+0.6 %; cut end to end, 4.1×: bench/results/video_chunks.json).
DEFAULT_WARMUP, DEFAULT_OVERLAP = 40, 8


@dataclass(frozen=True)
class Chunk:
    """Frames ``start`` … ``stop − 1`` of a clip, made by one worker; the first ``overlap`` of them are also the
    last of the chunk before."""

    start: int
    stop: int
    overlap: int


def plan_chunks(frames: int, chunk_frames: int, overlap: int = DEFAULT_OVERLAP) -> list[Chunk]:
    """A clip of ``frames`` frames in chunks of about ``chunk_frames`` each, neighbours sharing ``overlap``.

    Example:
        >>> plan_chunks(100, 40, overlap=8)
        [Chunk(start=0, stop=40, overlap=0), Chunk(start=32, stop=72, overlap=8), Chunk(start=64, stop=100, overlap=8)]
    """
    if chunk_frames <= overlap:
        raise InputError(f"chunks of {chunk_frames} frames cannot share {overlap}: make them longer")
    chunks, start = [], 0
    while True:
        stop = min(frames, start + chunk_frames)
        chunks.append(Chunk(start, stop, overlap if start else 0))
        if stop >= frames:
            return chunks
        start = stop - overlap


def join_chunks(parts: list[tuple[Chunk, Path]], source: str | Path, output: str | Path) -> int:
    """The chunks' videos (each ``stylize_video(..., frames=(start, stop))`` of ``source``) as one H.264 MP4 with
    ``source``'s audio, fading linearly from one chunk to the next over the frames they share; the frames written.

    Raises:
        InputError: chunks that do not cover the clip from its first frame, each once.
    """
    parts = sorted(parts, key=lambda part: part[0].start)
    expected = 0
    for chunk, _ in parts:
        if chunk.start + chunk.overlap != expected or chunk.stop <= expected:
            raise InputError(f"chunk {chunk.start}–{chunk.stop} does not follow frame {expected}: chunks are missing")
        expected = chunk.stop
    info, first = probe_video(source), probe_video(parts[0][1])
    output = check_output_path(output, suffixes=(".mp4",), inputs=[source, *(path for _, path in parts)])
    tail: list[np.ndarray] = []  # the last frames of the chunk before, held back to fade across
    written = 0
    with VideoWriter(output, (first.width, first.height), info.fps, audio_from=source) as writer:
        for index, (chunk, path) in enumerate(parts):
            following = parts[index + 1][0].overlap if index + 1 < len(parts) else 0
            length = chunk.stop - chunk.start
            for position, frame in enumerate(read_frames(path)):
                if position < chunk.overlap:
                    share = (position + 1) / (chunk.overlap + 1)
                    frame = np.round((1 - share) * tail[position] + share * frame).astype(np.uint8)
                if position >= length - following:
                    tail.append(frame.astype(np.float32))
                    continue
                writer.write(frame)
                written += 1
            tail = tail[-following:] if following else []
    return written


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


class BlendingPainter:
    """Frames through an engine that paints in one pass (its description's ``video`` is ``blend``), each a
    :func:`~stylegram.transfer.stylize` call, then :class:`~stylegram.ops.flow.TemporalBlender`.

    A painting is read and scaled once; the engine keeps what it computes from it (the one-pass engines'
    ``StatisticsCache``, the fast engine's network), so a frame costs one pass of the networks.

    Args:
        engine: the engine's name.
        style: the painting, for an engine that paints from style images; None for one with a trained model.
        arguments: the rest of the engine's arguments for every frame (``model``, ``strength``, ``precision``…).
        temporal_strength: as :class:`~stylegram.ops.flow.TemporalBlender`'s ``strength``.
        flow_scale: the fraction of the frame's size the motion is found at.
        tolerance: as :class:`~stylegram.ops.flow.TemporalBlender`'s: how the flow is trusted.
        flow_thread: a thread (an executor of one) each frame's motion may be found on while the network paints
            it, torch keeping a CPU fewer, when that is faster here (:class:`FrameOrder` times both orders); None:
            the motion is found after the network. Not used with one CPU.
    """

    def __init__(
        self,
        engine: str,
        style: ImageInput | None,
        arguments: dict,
        temporal_strength: float,
        flow_scale: float = FLOW_SCALE,
        tolerance: float | None = None,
        flow_thread: Executor | None = None,
    ) -> None:
        info = engine_info(engine)
        self.styles: list[Image.Image] = []
        if info.style_input == "paintings":
            painting = load_image(style, what="style image")
            least = info.min_style_side
            if min(painting.size) < least:
                raise InputError(
                    f"the painting is {painting.width}x{painting.height}; it needs at least {least} px a side"
                )
            self.styles = [resize(painting, fit_long_side(painting.size, DEFAULT_STYLE_SIZE))]
        self.arguments = {"engine": engine, **{name: value for name, value in arguments.items() if value is not None}}
        flow_thread = flow_thread if temporal_strength > 0 and usable_cpus() >= 2 else None
        self.order = FrameOrder(possible=flow_thread is not None)
        self.blender = TemporalBlender(temporal_strength, flow_scale, tolerance, flow_thread)
        # A small frame first: a bad model or option fails here, before any output exists, and the engine has
        # loaded what it keeps.
        stylize(Image.new("RGB", (2 * MIN_SIDE, 2 * MIN_SIDE)), self.styles, size=2 * MIN_SIDE, **self.arguments)

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        parallel = self.order.next()
        started = time.perf_counter()
        with reserve_cpus(1 if parallel else 0):
            if parallel:
                self.blender.start(frame)
            result = stylize(Image.fromarray(frame), self.styles, size=max(frame.shape[:2]), **self.arguments)
            painted = self.blender(frame, np.asarray(result.image))
        self.order.took(time.perf_counter() - started)
        return painted


#: A video tries both orders of a frame's work on its frames (the same frames either way): the motion found on
#: a thread of its own while the network paints, torch keeping a CPU fewer, and the motion found after the
#: network, on all the CPUs. Blocks of ``ORDER_BLOCK`` frames each way, ``ORDER_TRIALS`` times, the first frame of
#: a block not counted (it pays for the change of thread count); the faster median is kept until it is tried
#: again ``ORDER_RETRY`` frames later, since the load changes. Neither wins everywhere: with the fast style at
#: 640×360, side by side was 25.1 against 20.2 frames/s on the 2-core AMD EPYC with AVX-512 BF16, and slower than
#: in turn on the 2-core AMX Xeon, whose bf16 network lost more on one thread than the flow gave (docs/video.md).
ORDER_BLOCK, ORDER_TRIALS, ORDER_RETRY = 3, 2, 240


class FrameOrder:
    """Whether each frame of a video finds its motion beside the network or after it: measured on the frames.

    Example:
        >>> order = FrameOrder(possible=True)
        >>> for frame in range(2 * ORDER_BLOCK * ORDER_TRIALS):  # side by side takes 40 ms a frame, in turn 50
        ...     order.took(0.040 if order.next() else 0.050)
        >>> order.next(), order.seconds
        (True, {True: 0.04, False: 0.05})
    """

    def __init__(self, possible: bool) -> None:
        self.possible = possible
        self.frame = 0
        self.parallel = possible
        self.trial: dict[bool, list[float]] = {True: [], False: []}
        #: The last trial's median seconds a frame of each order (parallel: True).
        self.seconds: dict[bool, float] = {}
        self.parallel_frames = 0

    def next(self) -> bool:
        """Whether the next frame finds its motion on the flow's thread."""
        position = self.frame % ORDER_RETRY
        if self.possible and position < 2 * ORDER_BLOCK * ORDER_TRIALS:
            self.parallel = (position // ORDER_BLOCK) % 2 == 0
        return self.parallel

    def took(self, seconds: float) -> None:
        """The frame :meth:`next` was asked for took ``seconds``."""
        position = self.frame % ORDER_RETRY
        trial_frames = 2 * ORDER_BLOCK * ORDER_TRIALS
        self.parallel_frames += self.parallel
        self.frame += 1
        if self.possible and position < trial_frames:
            if position % ORDER_BLOCK:
                self.trial[self.parallel].append(seconds)
            if position == trial_frames - 1:
                self.seconds = {order: float(np.median(times)) for order, times in self.trial.items()}
                self.parallel = self.seconds[True] <= self.seconds[False]
                self.trial = {True: [], False: []}


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


def check_video_engine(engine: str | None, style: ImageInput | None) -> str:
    """The engine a clip is made with: ``engine``, or by default ``gatys`` with a painting and ``fast`` without.

    Raises:
        InputError: an engine that does not make videos, a painting for one with trained models or none for one
            that paints from paintings.
    """
    if engine is None:
        return "fast" if style is None else "gatys"
    makers = video_engines()
    if engine not in makers:
        raise InputError(f"engine {engine!r} does not make videos; choose one of {', '.join(makers)}")
    info = engine_info(engine)
    if info.style_input == "model" and style is not None:
        others = ", ".join(name for name in makers if engine_info(name).style_input == "paintings")
        raise InputError(f"the {engine} engine paints a trained style (--model); give engine {others} for a painting")
    if info.style_input == "paintings" and style is None:
        raise InputError(f"engine {engine} needs a painting (--style)")
    return engine


def video_engines() -> list[str]:
    """The engines that make clips, in the registry's order."""
    return [info.name for info in engine_infos() if info.video is not None]


def stylize_video(
    source: str | Path,
    output: str | Path,
    *,
    engine: str | None = None,
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
    frames: tuple[int, int] | None = None,
    warmup: int = DEFAULT_WARMUP,
    on_progress: ProgressCallback | None = None,
) -> VideoResult:
    """Repaint every frame of ``source`` and write an H.264 MP4 with the source's audio.

    With a trained style (``model``, engine ``fast``) or one pass with a painting (``adain``, ``wct``, ``efdm``) a
    frame takes a fraction of a second; optimised with a painting (``gatys``), seconds to minutes (for short clips).

    Args:
        source: the clip.
        output: where to write the ``.mp4`` (atomically).
        engine: one of :func:`video_engines`; None: ``gatys`` when ``style`` is given, else ``fast``.
        model: a shipped style's name or a model file (see ``stylegram styles``), for ``fast``.
        style: the painting, for every other engine.
        size: long side of the output frames; None keeps the clip's (made even).
        temporal_strength: how strongly each frame keeps to the previous one where the flow is reliable: for a
            network, the share of the warped previous output blended in; for optimisation, the temporal loss
            weight relative to its default. 0 gives plain per-frame stylization (flickers).
        strength: for a network, 1 its picture and 0 the photo (default 1); for the other engines, as in
            ``stylegram transfer`` (their defaults).
        color: ``none``, ``luminance`` or ``match``: keep the clip's colours (optimisation: none or match).
        iterations / first_iterations: ``gatys``' steps per frame, and for the first frame.
        seed: for ``gatys``.
        precision: ``auto``, ``fp32`` or ``bf16``.
        device: ``auto``, ``cpu`` or ``cuda``.
        frames: ``(start, stop)``: only those frames (a chunk, :func:`plan_chunks`), without the audio, which
            :func:`join_chunks` adds; None: the whole clip.
        warmup: with ``frames``, how many frames before ``start`` are stylized (not written) so the temporal
            blending has settled by the first frame written.
        on_progress: called after every frame written (stage ``"video"``).
    """
    started = time.perf_counter()
    # 1. Check the output and the clip.
    output = check_output_path(output, suffixes=(".mp4",), inputs=[source, style, model])
    engine = check_video_engine(engine, style)
    check_fraction("temporal strength", temporal_strength)
    check_controls(strength, color, precision)
    for name, value in (("iterations", iterations), ("first iterations", first_iterations)):
        if not isinstance(value, int) or value < 1:
            raise InputError(f"{name} must be a whole number of at least 1, got {value!r}")
    check_pixels("size", size, MIN_SIDE)
    info = probe_video(source)
    start, stop = (0, info.frames) if frames is None else frames
    if not 0 <= start < stop <= info.frames:
        raise InputError(f"frames {start}–{stop} are not within the clip's {info.frames}")
    if not isinstance(warmup, int) or warmup < 0:
        raise InputError(f"warmup must be a whole number of frames, got {warmup!r}")
    first = max(0, start - warmup) if frames is not None else 0

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
        **({"frames": [start, stop], "warmup": start - first} if frames is not None else {}),
    }
    options["engine"] = engine
    painter_info = engine_info(engine)
    arguments = {"device": device, "precision": precision_used, "color": color, "strength": strength}
    if painter_info.style_input == "model":
        options |= {"model": str(model), "strength": painter_info.default_strength if strength is None else strength}
        arguments["model"] = model
    else:
        options["style"] = describe_image(style, absolute=True)
    flow_thread = ThreadPoolExecutor(1, thread_name_prefix="flow")
    if painter_info.video == "blend":
        painter: BlendingPainter | OptimisingPainter = BlendingPainter(
            engine, style, arguments, temporal_strength, flow_thread=flow_thread
        )
    else:
        load_image(style, what="style image")  # a bad painting fails now, not at the first frame
        options |= {"iterations": iterations, "first_iterations": first_iterations, "seed": seed}
        painter = OptimisingPainter(style, device, precision_used, seed, options)

    # 3. Stream the frames through, one in memory at a time.
    count = 0
    audio = source if frames is None else None
    with flow_thread, VideoWriter(output, frame_size, info.fps, audio_from=audio) as writer:
        for index, frame in enumerate(read_frames(source, frame_size)):
            if index < first:
                continue
            if index >= stop:
                break
            painted = painter(frame)
            if index < start:
                continue
            writer.write(painted)
            count += 1
            if on_progress is not None:
                on_progress(ProgressEvent(count, stop - start, "video", {}, time.perf_counter() - started))

    # 4. Written and moved into place by the writer.
    if isinstance(painter, BlendingPainter) and painter.order.possible:
        trial = {
            "parallel" if order else "in_turn": round(seconds * 1000, 1)
            for order, seconds in painter.order.seconds.items()
        }
        options["parallel_flow"] = {"frames": painter.order.parallel_frames, "last_trial_ms_a_frame": trial}
    has_audio = info.has_audio and frames is None
    return VideoResult(output, count, frame_size, info.fps, has_audio, time.perf_counter() - started, options)
