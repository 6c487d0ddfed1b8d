"""Reading and writing video with PyAV (FFmpeg): frames stream through, nothing holds the whole clip.

:func:`probe_video` checks a file before any work (a video stream, frames, limits) and says what it holds;
:func:`read_frames` yields its frames one by one as RGB arrays; :class:`VideoWriter` encodes H.264 MP4 into a
temporary file beside the output, copies the source's audio stream over unchanged, and renames the file into
place only when everything is written, so a failed run leaves nothing under the final name.
"""

from __future__ import annotations

import itertools
import os
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image

from stylegram.errors import InputError
from stylegram.io.files import atomic_path

#: Longest clip accepted (frames) and largest frame (pixels): a 10-minute 30 fps clip, 4K frames.
MAX_FRAMES = 18_000
MAX_FRAME_PIXELS = 3840 * 2160
#: Frame intervals are compared over the first this many frames; one more than this many times another
#: means a variable frame rate.
VFR_SAMPLE, VFR_TOLERANCE = 240, 1.5
#: More than the most frames an encoder moves ahead of a B-frame (H.264 allows 16).
REORDER_DEPTH = 32
VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".m4v")


@dataclass(frozen=True)
class VideoInfo:
    """What :func:`probe_video` found: frame size, rate and count, and whether there is sound."""

    width: int
    height: int
    fps: Fraction
    frames: int
    has_audio: bool

    @property
    def duration_s(self) -> float:
        return self.frames / float(self.fps)


def probe_video(path: str | os.PathLike) -> VideoInfo:
    """Open ``path`` and describe its first video stream.

    Raises:
        InputError: missing file, not a video, no video stream, no frames, a frame rate that cannot be told,
            or a clip over ``MAX_FRAMES`` / ``MAX_FRAME_PIXELS``.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"video not found: {path}")
    try:
        with av.open(str(path)) as container:
            if container.format.name == "image2" or container.format.name.endswith("_pipe"):
                raise InputError(f"{path} is a still image, not a video")
            if not container.streams.video:
                raise InputError(f"{path} has no video stream")
            stream = container.streams.video[0]
            rate = stream.average_rate or stream.guessed_rate
            frames = stream.frames or _count_frames(container, stream)
            info = VideoInfo(
                stream.codec_context.width, stream.codec_context.height, Fraction(rate or 0), frames,
                bool(container.streams.audio),
            )  # fmt: skip
            intervals = _frame_intervals(container, stream)
    except (av.error.FFmpegError, UnicodeDecodeError) as error:
        raise InputError(f"{path} is not a readable video ({error})") from None
    if info.frames == 0:
        raise InputError(f"{path} has no frames")
    if info.fps <= 0:
        raise InputError(f"{path} has no frame rate that can be told")
    if intervals and max(intervals) > VFR_TOLERANCE * min(intervals):
        raise InputError(
            f"{path} has a variable frame rate (frames {min(intervals) * 1000:.0f} to {max(intervals) * 1000:.0f} ms "
            "apart); stylegram writes a constant rate and the sound would drift: convert it first, e.g. "
            "ffmpeg -i IN -fps_mode cfr OUT.mp4"
        )
    if info.frames > MAX_FRAMES or info.width * info.height > MAX_FRAME_PIXELS:
        raise InputError(
            f"{path} is {info.width}x{info.height} with {info.frames} frames; the limit is "
            f"{MAX_FRAMES} frames of at most {MAX_FRAME_PIXELS} pixels"
        )
    return info


def _frame_intervals(container: av.container.InputContainer, stream: av.video.stream.VideoStream) -> list[float]:
    """Seconds between consecutive frames, in presentation order, over the first ``VFR_SAMPLE`` frames.

    Packets come in decoding order, in which B-frames arrive after later frames: a few more are read than are
    compared, so that no frame of the span is missing once they are sorted.
    """
    times = []
    for packet in container.demux(stream):
        if packet.pts is not None and packet.size:
            times.append(float(packet.pts * stream.time_base))
        if len(times) >= VFR_SAMPLE + REORDER_DEPTH:
            times = sorted(times)[:VFR_SAMPLE]
            break
    container.seek(0)
    times.sort()
    return [later - earlier for earlier, later in itertools.pairwise(times) if later > earlier]


def _count_frames(container: av.container.InputContainer, stream: av.video.stream.VideoStream) -> int:
    count = sum(1 for packet in container.demux(stream) if packet.size)
    container.seek(0)
    return count


def output_size(info: VideoInfo, long_side: int | None) -> tuple[int, int]:
    """The ``(width, height)`` frames are encoded at: the source's or ``long_side``, made even (H.264 4:2:0
    needs even sides).

    Example:
        >>> output_size(VideoInfo(641, 361, Fraction(24), 10, False), None)
        (640, 360)
        >>> output_size(VideoInfo(1920, 1080, Fraction(24), 10, False), 640)
        (640, 360)
    """
    width, height = info.width, info.height
    if long_side is not None and max(width, height) != long_side:
        scale = long_side / max(width, height)
        width, height = round(width * scale), round(height * scale)
    return max(2, width - width % 2), max(2, height - height % 2)


def read_frames(path: str | os.PathLike, size: tuple[int, int] | None = None) -> Iterator[np.ndarray]:
    """The frames of the first video stream, in order, as ``(H, W, 3)`` uint8 RGB, resized to ``size``."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for frame in container.decode(stream):
            image = frame.to_image()
            if size is not None and image.size != size:
                image = image.resize(size, Image.Resampling.BILINEAR)
            yield np.asarray(image)


class VideoWriter:
    """H.264 MP4 (yuv420p) at ``fps``, with the audio of ``audio_from`` copied over, written atomically.

    Use as a context manager; frames are ``(H, W, 3)`` uint8 RGB of ``size``. Leaving the block by an exception
    deletes the temporary file and leaves any existing file at ``path`` as it was.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        size: tuple[int, int],
        fps: Fraction,
        audio_from: str | os.PathLike | None = None,
        crf: int = 20,
    ):
        self.path = Path(path)
        self.size = size
        self.fps = fps
        self.audio_from = audio_from
        self.crf = crf

    def __enter__(self) -> VideoWriter:
        self.stack = ExitStack()
        self.temporary = self.stack.enter_context(atomic_path(self.path, suffix=".part.mp4"))
        self.container = av.open(str(self.temporary), mode="w", format="mp4")
        self.stream = self.container.add_stream("libx264", rate=self.fps)
        self.stream.width, self.stream.height = self.size
        self.stream.pix_fmt = "yuv420p"
        self.stream.options = {"crf": str(self.crf), "preset": "veryfast"}
        self.source = self.audio_stream = None
        if self.audio_from is not None:
            self.source = av.open(str(self.audio_from))
            if self.source.streams.audio:
                self.audio_stream = self.container.add_stream_from_template(self.source.streams.audio[0])
        return self

    def write(self, frame: np.ndarray) -> None:
        video_frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
        for packet in self.stream.encode(video_frame):
            self.container.mux(packet)

    def __exit__(self, kind, error, traceback) -> None:
        try:
            if kind is None:
                for packet in self.stream.encode():
                    self.container.mux(packet)
                if self.audio_stream is not None:
                    for packet in self.source.demux(self.source.streams.audio[0]):
                        if packet.dts is None:
                            continue
                        packet.stream = self.audio_stream
                        self.container.mux(packet)
        finally:
            self.container.close()
            if self.source is not None:
                self.source.close()
            self.stack.__exit__(*sys.exc_info())  # renames the file into place, or deletes it on an error
