"""Optical flow between video frames, warping by it, and where it can be trusted (OpenCV's DIS flow).

Flows here map the *current* frame to the *previous* one: ``flow[y, x]`` is where pixel ``(x, y)`` of the
current frame was in the previous frame, so ``warp(previous, flow)`` lines the previous frame up with the
current one. Occluded pixels (newly visible, or moving out) have no counterpart; the forward–backward test of
Ruder et al. (2016) finds them: following the flow there and back must come home.
"""

from __future__ import annotations

import functools
import threading
from concurrent.futures import Executor, Future

import cv2
import numpy as np

#: Measured on bunny.mp4 and a panning clip with starry_night (bench/video.py, docs/video.md): the warped previous
#: output blended in at up to 0.95 (:data:`CHANGE_RATIO`), bicubically, with its detail restored (below), lowers the
#: warping error 61 % on bunny (2.0x the source's own) and 78 % on the pan, for a 5 % and 9 % higher style
#: distance. Without the detail restoration 0.85 was best, and the pan's picture went soft: +30 % style distance.
DEFAULT_TEMPORAL_STRENGTH = 0.95
#: The share of the frame's size the flow of a stylized video is found at. Half size was tried on bunny at
#: 640×360 (AMX Xeon, one run beside the other): 5.65 against 5.01 frames/s, but a warping error of 0.00641
#: against 0.00515 (2.5× the source's instead of 2.0×), so the flow stays at full size.
FLOW_SCALE = 1.0
#: A live stream's flow is trusted where the warped previous frame matches the current one within this many grey
#: levels (:func:`matches`): one DIS flow a frame instead of the forward–backward test's two. With the fast engine
#: at 640×360, bunny's first 96 frames: 8.41 against 6.53 frames/s for a warping error of 0.00972 against 0.00959
#: (the fast pan: 7.85 against 6.17, 0.01558 both); 8 and 16 grey levels trusted too little (0.0105, 0.0099).
#: Over the whole bench clip (bench/results/video_flow_match.json) it gave 9.64 frames/s and 2.11× the source's
#: warping error, where the forward–backward test gives 2.00× (6.21 frames/s in a run an hour earlier): files keep
#: that test, streams, where a frame's time is the latency, take the match. ``stylegram eval-video`` measures
#: with the forward–backward test always.
MATCH_TOLERANCE = 24.0
#: Frames are not shrunk for the flow below this side (DIS needs 12 px, and its pyramid more).
MIN_FLOW_SIDE = 32
#: The history's weight is held down to what brings a frame's change along the flow to this multiple of the
#: source's own change there (both where the flow is trusted, as shares followed over :data:`CHANGE_MEMORY`
#: frames), and never above the strength asked for. A pan resamples every pixel of the history every frame, and
#: a strong blend washes its strokes out where the source itself changes a lot; a still scene keeps the full
#: strength. The shipped starry_night through H.264 (training/logs/experiments/held_down_blend.py, on cached
#: frames, 8 Dec, AMD EPYC with AVX-512 BF16): bunny 1.99x the source's warping error and +5.4 % style distance
#: at a fixed 0.95, 1.97x and +5.0 % held down; the pan 0.98x and +12.7 % fixed, 1.05x and +8.8 % held down.
#: Held down frame by frame, without the memory, bunny rose to 2.13x: the frames where the source changes most
#: lost the blend.
CHANGE_RATIO = 1.0
CHANGE_MEMORY = 24
#: Where the flow moves a trusted pixel less than STILL_MOTION px and the blend would change it by no more than
#: STILL_TOLERANCE grey levels in any channel, the previous output is kept exactly: H.264 codes a block that
#: repeats as a copy, and one that changes by a level here and there with new noise of its own, which no CRF
#: takes away (docs/video.md). AdaIN with starry_night on bunny's 10 s (held_down_blend.py, 8 Dec): 2.16x the
#: source's warping error without, 2.03x at 1 level, 1.93x at 2 (two thirds of the pixels kept), for a style
#: distance +3.7 %, +4.8 %, +5.8 % over frame by frame.
STILL_MOTION = 0.25
STILL_TOLERANCE = 2
#: Scale (Gaussian sigma, px) below which a blended frame's detail is brought back to the fresh frame's energy.
DETAIL_SIGMA = 1.5
#: The most the blended frame's detail is amplified.
MAX_DETAIL_GAIN = 2.0


_per_thread = threading.local()


def _dis(size: tuple[int, int]) -> cv2.DISOpticalFlow:
    # One instance per frame size: creating one costs more than a 640×360 flow, and an instance that worked on
    # much smaller frames keeps fewer pyramid levels. And one per thread: an instance keeps its working images,
    # and two flows found at once in one (a video's on its thread, a live viewer's) corrupt each other.
    instances = _per_thread.__dict__.setdefault("dis", {})
    if size not in instances:
        instances[size] = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    return instances[size]


def to_grey(frame: np.ndarray) -> np.ndarray:
    """``(H, W, 3)`` uint8 RGB → ``(H, W)`` uint8 grey, what the flow is computed on."""
    return cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)


def optical_flow(current: np.ndarray, previous: np.ndarray) -> np.ndarray:
    """``(H, W, 2)`` float32 flow from the grey ``current`` frame to the grey ``previous`` one.

    Example:
        >>> texture = np.random.default_rng(0).integers(0, 256, (64, 64)).astype(np.uint8)
        >>> previous = cv2.GaussianBlur(texture, (0, 0), 2)
        >>> current = np.roll(previous, 3, axis=1)  # the picture moved 3 px right
        >>> flow = optical_flow(current, previous)
        >>> round(float(flow[30, 25, 0]))  # so a pixel in it was 3 px further left
        -3
    """
    return _dis(current.shape[:2]).calc(current, previous, None)


def warp(image: np.ndarray, flow: np.ndarray, sharp: bool = False) -> np.ndarray:
    """``image`` (the previous frame, any channels) sampled where ``flow`` says each current pixel was:
    bilinearly, or bicubically when ``sharp`` (for pictures warped frame after frame, whose blur would add up)."""
    x, y = sources(flow)
    interpolation = cv2.INTER_CUBIC if sharp else cv2.INTER_LINEAR
    return cv2.remap(image, x, y, interpolation, borderMode=cv2.BORDER_REPLICATE)


def sources(flow: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where ``flow`` says each pixel was: its column plus the flow's x, its row plus the flow's y."""
    columns, rows = _grid(flow.shape[:2])
    along, down = cv2.split(flow)
    return cv2.add(columns, along), cv2.add(rows, down)


@functools.cache
def _grid(size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    height, width = size
    return np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))


def reliable(flow_to_previous: np.ndarray, flow_to_current: np.ndarray) -> np.ndarray:
    """``(H, W)`` bool: where the flow can be trusted (forward–backward consistent, Ruder et al. 2016).

    ``flow_to_current`` maps the previous frame to the current one. Following ``flow_to_previous`` and then
    ``flow_to_current`` from there must return to the start: ``|w + ŵ|² ≤ 0.01 (|w|² + |ŵ|²) + 0.5``. A pixel
    whose flow leads outside the previous frame came into view: nothing is known of it (warped, it would copy
    the border, and in a pan those copies pile up into streaks).

    Example:
        >>> still = np.zeros((4, 6, 2), np.float32)
        >>> panned = still.copy(); panned[..., 0] = 2  # every pixel was 2 px further right
        >>> reliable(panned, -panned).astype(int)[0]  # the last two columns were out of view
        array([1, 1, 1, 1, 0, 0])
    """
    x, y = sources(flow_to_previous)
    back = cv2.remap(flow_to_current, x, y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    # OpenCV's arithmetic: NumPy's over the (H, W, 2) flows cost 3× as much (24 against 8 ms at 640×360).
    total = _squared_length(cv2.add(flow_to_previous, back))
    size = cv2.add(_squared_length(flow_to_previous), _squared_length(back))
    return (total <= 0.01 * size + 0.5) & _in_view(x, y)


def matches(flow_to_previous: np.ndarray, current: np.ndarray, previous: np.ndarray, tolerance: float) -> np.ndarray:
    """``(H, W)`` bool: where the flow can be trusted by the pictures alone: the previous grey frame, warped by
    it, is within ``tolerance`` grey levels of the current one, and the pixel was in view. One flow instead of
    the forward–backward test's two; an occluded pixel usually lands on something else and differs.

    Example:
        >>> previous = np.zeros((4, 6), np.uint8); previous[:, 2] = 200
        >>> still = np.zeros((4, 6, 2), np.float32)
        >>> moved = np.roll(previous, 1, axis=1)  # the bright column moved, the flow says nothing did
        >>> bool(matches(still, previous, previous, 10).all()), matches(still, moved, previous, 10)[0]
        (True, array([ True,  True, False, False,  True,  True]))
    """
    x, y = sources(flow_to_previous)
    warped = cv2.remap(previous, x, y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return (cv2.absdiff(warped, current) <= tolerance) & _in_view(x, y)


def _in_view(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Where the source positions ``x``, ``y`` (:func:`sources`) lie inside the previous frame."""
    height, width = x.shape
    return (x >= 0) & (x <= width - 1) & (y >= 0) & (y <= height - 1)


def _squared_length(flow: np.ndarray) -> np.ndarray:
    along, down = cv2.split(flow)
    return cv2.add(cv2.multiply(along, along), cv2.multiply(down, down))


def motion(
    current: np.ndarray, previous: np.ndarray, scale: float = 1.0, tolerance: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The flow from the grey ``current`` frame to the grey ``previous`` one, and the ``(H, W)`` mask of where it
    is reliable: by the forward–backward test (both directions computed), or with a ``tolerance`` by
    :func:`matches` (one direction); both found at ``scale`` × the frames' size and brought up to it.

    Example:
        >>> previous = np.zeros((64, 96), np.uint8); previous[20:44, 30:60] = 255
        >>> flow, trusted = motion(np.roll(previous, 4, axis=1), previous, scale=0.5)
        >>> flow.shape, round(float(flow[32, 45, 0])), bool(trusted[32, 45])
        ((64, 96, 2), -4, True)
    """
    height, width = current.shape[:2]
    size = (round(width * scale), round(height * scale))
    reduced = scale != 1 and min(size) >= MIN_FLOW_SIDE
    if reduced:
        current = cv2.resize(current, size, interpolation=cv2.INTER_AREA)
        previous = cv2.resize(previous, size, interpolation=cv2.INTER_AREA)
    to_previous = optical_flow(current, previous)
    if tolerance is None:
        trusted = reliable(to_previous, optical_flow(previous, current))
    else:
        trusted = matches(to_previous, current, previous, tolerance)
    if not reduced:
        return to_previous, trusted
    factors = np.float32([width / current.shape[1], height / current.shape[0]])
    to_previous = cv2.resize(to_previous, (width, height), interpolation=cv2.INTER_LINEAR) * factors
    trusted = cv2.resize(trusted.astype(np.uint8), (width, height), interpolation=cv2.INTER_NEAREST).astype(bool)
    return to_previous, trusted


def restore_detail(blended: np.ndarray, fresh: np.ndarray, sigma: float = DETAIL_SIGMA) -> np.ndarray:
    """``blended`` (float ``(H, W, C)``) with its fine detail amplified, per channel, to the energy it has in the
    ``fresh`` frame: averaging two frames whose strokes do not line up exactly, and resampling the previous one
    frame after frame, wash the strokes out. One gain per channel and frame (between 1 and ``MAX_DETAIL_GAIN``)
    keeps the detail where the history put it, so it does not bring the flicker back.

    Example:
        >>> fresh = np.tile([[0.0, 100.0]], (8, 4))[..., None].repeat(3, axis=2)  # RGB stripes, 16×8
        >>> restored = restore_detail(fresh * 0.5 + 25, fresh)  # the same stripes at half the contrast
        >>> float((fresh * 0.5).std()), round(float(restored.std()))  # contrast brought back (up to gain 2)
        (25.0, 50)
    """
    # OpenCV's per-channel arithmetic and statistics: NumPy's reductions over a 640×360 frame cost more than the
    # blurs (bench/video.py).
    low = cv2.GaussianBlur(blended, (0, 0), sigma)
    detail = cv2.subtract(blended, low)
    fresh = fresh.astype(np.float32)
    fresh_detail = cv2.subtract(fresh, cv2.GaussianBlur(fresh, (0, 0), sigma))
    energy, fresh_energy = _energy(detail), _energy(fresh_detail)
    gain = np.clip(np.sqrt(fresh_energy / (energy + 1e-6)), 1.0, MAX_DETAIL_GAIN)
    if detail.ndim == 2:
        return cv2.scaleAdd(detail, float(gain[0]), low)
    return cv2.add(low, cv2.multiply(detail, _scalar(gain)))


def _mean_difference(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float:
    """Mean absolute difference of two uint8 RGB frames over the pixels of ``mask`` (0 where it is empty)."""
    return float(np.mean(cv2.mean(cv2.absdiff(a, b), mask)[:3]))


def _energy(channels: np.ndarray) -> np.ndarray:
    """The mean square of each channel of ``channels`` (``(H, W)`` or ``(H, W, C)``, C ≤ 4)."""
    mean, deviation = cv2.meanStdDev(channels)
    return (mean**2 + deviation**2).ravel()


def _scalar(values: np.ndarray) -> tuple[float, ...]:
    return (*map(float, values), *([0.0] * (4 - len(values))))


class TemporalBlender:
    """Makes consecutive stylized frames agree: the previous output, warped along the source's motion, is
    blended into the new one wherever the flow is reliable, and the blend's fine detail brought back to the
    new frame's (:func:`restore_detail`). The blend's weight is held down where more of it is not needed
    (:data:`CHANGE_RATIO`), and a still pixel the blend would hardly change keeps its value (:data:`STILL_MOTION`).

    Args:
        strength: the most weight of the warped previous output where the flow is reliable (0: plain per-frame
            frames; towards 1: still areas hardly change at all).
        flow_scale: the flow is found at this fraction of the frames' size (:func:`motion`).
        tolerance: trust the flow where the warped previous frame matches within this many grey levels
            (:func:`matches`, one flow a frame); None: the forward–backward test (two flows).
        executor: where :meth:`start` finds the motion (a thread of its own, so that it runs while the network
            paints the frame); None: :meth:`start` does nothing and the motion is found in the call.

    Example:
        >>> blender = TemporalBlender(strength=0.5)
        >>> still = np.full((16, 16, 3), 100, np.uint8)
        >>> first = blender(still, np.zeros((16, 16, 3), np.uint8))
        >>> int(blender(still, np.full((16, 16, 3), 200, np.uint8))[8, 8, 0])  # half of the change goes through
        100
    """

    def __init__(
        self,
        strength: float = DEFAULT_TEMPORAL_STRENGTH,
        flow_scale: float = FLOW_SCALE,
        tolerance: float | None = None,
        executor: Executor | None = None,
    ):
        self.strength, self.flow_scale, self.tolerance = strength, flow_scale, tolerance
        self.executor = executor
        self.previous_grey: np.ndarray | None = None
        self.previous_source: np.ndarray | None = None
        self.previous_output: np.ndarray | None = None
        #: The source's change along the flow over the fresh frame's, followed over CHANGE_MEMORY frames.
        self.change_share: float | None = None
        self._started: tuple[np.ndarray, np.ndarray, Future | None] | None = None

    def start(self, source: np.ndarray) -> None:
        """Begin finding the motion from the previous frame to ``source`` on the executor; the call for
        ``source`` then waits for it. The motion depends on the source frames alone, not on the painting."""
        if self.executor is not None:
            grey = to_grey(source)
            arguments = self._motion_arguments(grey)
            self._started = (source, grey, self.executor.submit(motion, *arguments) if arguments else None)

    def __call__(self, source: np.ndarray, stylized: np.ndarray) -> np.ndarray:
        """The frame to show for ``source`` (uint8 RGB) given its per-frame ``stylized`` version."""
        started, self._started = self._started, None
        if started is not None and started[0] is source:
            grey, found = started[1], started[2].result() if started[2] is not None else None
        else:
            grey = to_grey(source)
            arguments = self._motion_arguments(grey)
            found = motion(*arguments) if arguments else None
        output = stylized
        if found is not None:
            to_previous, trusted = found
            mask = trusted.view(np.uint8)
            warped = warp(self.previous_output, to_previous, sharp=True)
            strength = self._strength(source, stylized, warped, to_previous, mask)
            # Trusted pixels take strength × the warped history, the others the fresh frame alone.
            mixed = cv2.addWeighted(warped, strength, stylized, 1 - strength, 0, dtype=cv2.CV_32F)
            blended = stylized.astype(np.float32)
            cv2.copyTo(mixed, mask, blended)  # NumPy's masked copy takes 5× as long
            restored = restore_detail(blended, stylized)
            output = np.clip(np.rint(restored, out=restored), 0, 255, out=restored).astype(np.uint8)
            still = trusted & (cv2.absdiff(to_previous, 0).max(axis=2) < STILL_MOTION)
            steady = still & (cv2.absdiff(output, self.previous_output).max(axis=2) <= STILL_TOLERANCE)
            cv2.copyTo(self.previous_output, steady.view(np.uint8), output)
        self.previous_grey, self.previous_source, self.previous_output = grey, source, output
        return output

    def _strength(
        self, source: np.ndarray, stylized: np.ndarray, warped: np.ndarray, to_previous: np.ndarray, mask: np.ndarray
    ) -> float:
        """This frame's weight of the ``warped`` history: :attr:`strength` at most, held down by
        :data:`CHANGE_RATIO` × the followed share of the source's change in the fresh frame's, on ``mask``."""
        source_change = _mean_difference(source, warp(self.previous_source, to_previous), mask)
        share = source_change / max(_mean_difference(stylized, warped, mask), 1e-6)
        followed = self.change_share
        self.change_share = share if followed is None else followed + (share - followed) / CHANGE_MEMORY
        return float(np.clip(1 - CHANGE_RATIO * self.change_share, 0.0, self.strength))

    def _motion_arguments(self, grey: np.ndarray) -> tuple | None:
        """:func:`motion`'s arguments for ``grey`` against the history as it is now (a started motion must not
        see the history the call for its frame writes), or None where there is nothing to blend with."""
        # A stream may change its frame size (a camera switched): the history of another size is dropped.
        if self.previous_grey is None or self.previous_grey.shape != grey.shape or self.strength <= 0:
            return None
        return grey, self.previous_grey, self.flow_scale, self.tolerance


def frame_difference(previous: np.ndarray, current: np.ndarray, flow: np.ndarray, mask: np.ndarray) -> float:
    """Lai et al. (2018)'s warping error of one frame pair: mean |current − previous warped by ``flow``| over
    the ``mask`` pixels (where the source's flow is reliable), in 0..1 units; 0 where the mask is empty."""
    return _mean_difference(current, warp(previous, flow), mask.view(np.uint8)) / 255
