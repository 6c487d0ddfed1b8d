"""Tiny synthetic video clips for the video and service tests."""

import av
import numpy as np


def write_clip(path, frames=16, size=(66, 50), audio=True):
    """Odd-free sizes are the encoder's rule: the clip is made at an even size and read back."""
    generator = np.random.default_rng(0)
    background = generator.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    with av.open(str(path), mode="w") as container:
        video = container.add_stream("libx264", rate=12)
        video.width, video.height, video.pix_fmt = size[0], size[1], "yuv420p"
        tone = container.add_stream("aac", rate=8000) if audio else None
        for index in range(frames):
            frame = background.copy()
            frame[10:26, 2 + 2 * index : 18 + 2 * index] = (250, 30, 30)
            for packet in video.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in video.encode():
            container.mux(packet)
        if tone is not None:
            samples = (0.2 * np.sin(np.arange(8000 * frames // 12) * 0.1)).astype(np.float32)[None]
            audio_frame = av.AudioFrame.from_ndarray(samples, format="flt", layout="mono")
            audio_frame.sample_rate = 8000
            for packet in [*tone.encode(audio_frame), *tone.encode()]:
                container.mux(packet)
    return path
