"""Video on a tiny synthetic clip (a square moving over a textured background, with a tone) and a tiny net."""

import threading
from fractions import Fraction

import av
import numpy as np
import pytest
import torch
from clips import write_clip
from PIL import Image

from stylegram.cli.main import main
from stylegram.errors import InputError
from stylegram.evaluation import evaluate_video
from stylegram.io.video import probe_video, read_frames
from stylegram.models.store import save_style_model
from stylegram.models.transformer import TransformerNet
from stylegram.video import stylize_video


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return write_clip(tmp_path_factory.mktemp("video") / "clip.mp4")


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    torch.manual_seed(0)
    return save_style_model(TransformerNet((8, 16), 1), tmp_path_factory.mktemp("m") / "tiny.safetensors", {})


def test_probe_and_read(clip):
    info = probe_video(clip)
    assert (info.width, info.height, info.fps, info.frames, info.has_audio) == (66, 50, Fraction(12), 16, True)
    frames = list(read_frames(clip, (32, 24)))
    assert len(frames) == 16 and frames[0].shape == (24, 32, 3)


def test_stylized_clip_keeps_frames_rate_and_sound_and_flickers_less(tmp_path, clip, model):
    steady, plain = tmp_path / "steady.mp4", tmp_path / "plain.mp4"
    result = stylize_video(clip, steady, model=str(model), temporal_strength=0.8)
    stylize_video(clip, plain, model=str(model), temporal_strength=0.0)
    assert result.frames == 16 and result.size == (66, 50) and result.has_audio
    with av.open(str(steady)) as container:
        assert container.streams.video[0].average_rate == 12 and len(container.streams.audio) == 1
    steady_figures, plain_figures = evaluate_video(clip, steady), evaluate_video(clip, plain)
    assert steady_figures["frames"] == 16
    assert steady_figures["warping_error"] < plain_figures["warping_error"]
    assert steady_figures["source_warping_error"] == plain_figures["source_warping_error"]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["plain.mp4", "steady.mp4"]


def test_the_flow_found_beside_the_network_gives_the_frames_found_in_turn(tmp_path, clip, model, monkeypatch):
    # A video tries both orders on its first frames (the motion on a thread of its own while the network paints,
    # torch keeping a CPU fewer, and after the network) and keeps the faster; where there is one CPU, in turn.
    # The frames are the same.
    from stylegram import cpu, video
    from stylegram.ops import flow

    found_on, torch_threads = [], []
    find_motion = flow.motion

    def recorded_motion(*arguments, **keywords):
        found_on.append(threading.current_thread().name)
        return find_motion(*arguments, **keywords)

    monkeypatch.setattr(flow, "motion", recorded_motion)
    monkeypatch.setattr(cpu, "usable_cpus", lambda: 2)
    monkeypatch.setattr(video, "usable_cpus", lambda: 2)
    monkeypatch.setenv("STYLEGRAM_THREADS", "2")
    cpu.max_threads.cache_clear()
    before = torch.get_num_threads()
    try:
        beside, in_turn = tmp_path / "beside.mp4", tmp_path / "in_turn.mp4"
        result = stylize_video(
            clip, beside, model=str(model), temporal_strength=0.8,
            on_progress=lambda event: torch_threads.append(torch.get_num_threads()),
        )  # fmt: skip
        assert set(found_on) == {"flow_0", "MainThread"} and len(found_on) == 15  # none for the first frame
        assert found_on[:5] == ["flow_0", "flow_0", "MainThread", "MainThread", "MainThread"]
        assert torch_threads[:6] == [1, 1, 1, 2, 2, 2]
        trial = result.options["parallel_flow"]
        assert trial["frames"] in (6, 10) and set(trial["last_trial_ms_a_frame"]) == {"parallel", "in_turn"}
        found_on.clear()
        monkeypatch.setattr(video, "usable_cpus", lambda: 1)
        assert "parallel_flow" not in stylize_video(clip, in_turn, model=str(model), temporal_strength=0.8).options
        assert set(found_on) == {"MainThread"}
    finally:
        cpu.max_threads.cache_clear()
        torch.set_num_threads(before)
    assert all(np.array_equal(*pair) for pair in zip(read_frames(beside), read_frames(in_turn), strict=True))


def test_optimised_clip_follows_the_previous_frame(tmp_path, clip, style_path):
    """With a painting, every frame is optimised; starting from the previous result, warped, and held to it by
    the temporal loss, consecutive frames agree better than frames optimised each on their own."""
    steady, plain = tmp_path / "steady.mp4", tmp_path / "plain.mp4"
    settings = {"style": style_path, "size": 64, "first_iterations": 20, "iterations": 8}
    result = stylize_video(clip, steady, temporal_strength=1.0, **settings)
    stylize_video(clip, plain, temporal_strength=0.0, **settings)
    assert result.frames == 16 and result.size == (64, 48) and result.options["iterations"] == 8
    steady_figures, plain_figures = evaluate_video(clip, steady), evaluate_video(clip, plain)
    assert steady_figures["warping_error"] < 0.8 * plain_figures["warping_error"]


@pytest.mark.parametrize("engine", ["adain", "wct"])
def test_a_one_pass_engine_paints_a_clip_with_any_painting_steadier_than_frame_by_frame(
    tmp_path, clip, style_path, engine, capsys
):
    steady, plain = tmp_path / "steady.mp4", tmp_path / "plain.mp4"
    arguments = ["video", str(clip), "--engine", engine, "--style", str(style_path), "--size", "64", "-q"]
    assert main([*arguments, "-o", str(steady)]) == 0
    assert "16 frames 64x48" in capsys.readouterr().err
    assert main([*arguments, "-o", str(plain), "--no-temporal"]) == 0
    steady_figures, plain_figures = evaluate_video(clip, steady), evaluate_video(clip, plain)
    assert steady_figures["warping_error"] < 0.8 * plain_figures["warping_error"]
    assert probe_video(steady).has_audio
    first = next(read_frames(steady)).astype(np.float32)
    assert np.abs(first - next(read_frames(clip, (64, 48))).astype(np.float32)).mean() > 10  # repainted


def test_a_video_engine_gets_the_input_it_paints_with(tmp_path, clip, style_path, model, capsys):
    output = tmp_path / "out.mp4"
    assert main(["video", str(clip), "-o", str(output), "--engine", "fast", "--style", str(style_path)]) == 2
    assert "the fast engine paints a trained style" in capsys.readouterr().err
    assert main(["video", str(clip), "-o", str(output), "--engine", "adain"]) == 2
    assert "engine adain needs a painting (--style)" in capsys.readouterr().err
    with pytest.raises(InputError, match="does not make videos"):
        stylize_video(clip, output, engine="photo", style=style_path)
    tiny = tmp_path / "tiny.png"
    Image.new("RGB", (8, 8), (200, 60, 30)).save(tiny)
    assert main(["video", str(clip), "-o", str(output), "--engine", "wct", "--style", str(tiny)]) == 2
    assert "the painting is 8x8" in capsys.readouterr().err
    assert not output.exists()


def test_bad_video_input(tmp_path, content_path, model, capsys):
    with pytest.raises(InputError, match="is a still image, not a video"):
        probe_video(content_path)
    text = tmp_path / "notes.mp4"
    text.write_text("not a video\n")
    with pytest.raises(InputError, match="is not a readable video"):
        probe_video(text)
    sound_only = tmp_path / "sound.m4a"
    with av.open(str(sound_only), mode="w", format="mp4") as container:
        stream = container.add_stream("aac", rate=8000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 4096), np.float32), format="flt", layout="mono")
        frame.sample_rate = 8000
        for packet in [*stream.encode(frame), *stream.encode()]:
            container.mux(packet)
    with pytest.raises(InputError, match="has no video stream"):
        probe_video(sound_only)
    output = tmp_path / "out.mp4"
    assert main(["video", str(tmp_path / "missing.mp4"), "-o", str(output), "--model", str(model)]) == 2
    assert "video not found" in capsys.readouterr().err
    assert main(["video", str(content_path), "-o", str(tmp_path / "out.avi"), "--model", str(model)]) == 2
    assert "use one of .mp4" in capsys.readouterr().err
    assert main(["video", str(content_path), "-o", str(output), "--style", str(tmp_path / "nope.jpg")]) == 2
    assert not output.exists()


def test_a_variable_frame_rate_is_refused(tmp_path):
    """Frames 40 ms apart, then 120 ms apart: re-timing them at a constant rate would make the sound drift."""
    path = tmp_path / "vfr.mp4"
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.codec_context.time_base = Fraction(1, 1000)
        time_ms = 0
        for index in range(20):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), index * 10, np.uint8), format="rgb24")
            frame.pts, frame.time_base = time_ms, Fraction(1, 1000)
            time_ms += 40 if index < 10 else 120
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    with pytest.raises(InputError, match="variable frame rate"):
        probe_video(path)


def test_chunks_made_apart_join_into_the_whole_clip_with_its_sound(tmp_path, clip, model):
    from stylegram.video import join_chunks, plan_chunks

    def made_in_chunks(name, overlap, warmup):
        parts = []
        for chunk in plan_chunks(16, 8, overlap=overlap):
            path = tmp_path / f"{name}{chunk.start}.mp4"
            made = stylize_video(clip, path, model=str(model), frames=(chunk.start, chunk.stop), warmup=warmup)
            assert made.frames == chunk.stop - chunk.start and not made.has_audio
            assert made.options["warmup"] == min(warmup, chunk.start)
            parts.append((chunk, path))
        joined = tmp_path / f"{name}.mp4"
        assert join_chunks(list(reversed(parts)), clip, joined) == 16  # in any order
        return parts, np.stack(list(read_frames(joined))).astype(float)

    assert [(chunk.start, chunk.stop) for chunk in plan_chunks(16, 8, overlap=3)] == [(0, 8), (5, 13), (10, 16)]
    parts, joined = made_in_chunks("joined", overlap=3, warmup=4)
    _, cut = made_in_chunks("cut", overlap=0, warmup=0)  # chunks simply end to end
    assert probe_video(tmp_path / "joined.mp4").has_audio
    stylize_video(clip, tmp_path / "whole.mp4", model=str(model))
    whole = np.stack(list(read_frames(tmp_path / "whole.mp4"))).astype(float)
    assert len(joined) == len(whole) == 16
    # Warm-up and fades bring the chunked video closer to the one made whole than cutting end to end does.
    assert np.abs(joined - whole).mean() < np.abs(cut - whole).mean()
    with pytest.raises(InputError, match="chunks are missing"):
        join_chunks(parts[:1] + parts[2:], clip, tmp_path / "gap.mp4")


def test_the_join_fades_across_the_frames_two_chunks_share(tmp_path):
    from stylegram.io.video import VideoWriter
    from stylegram.video import Chunk, join_chunks

    source = write_clip(tmp_path / "source.mp4", frames=10, size=(32, 24))
    parts = []
    for chunk, value in ((Chunk(0, 6, 0), 40), (Chunk(2, 10, 4), 200)):
        path = tmp_path / f"part{chunk.start}.mp4"
        with VideoWriter(path, (32, 24), Fraction(12)) as writer:
            for _ in range(chunk.stop - chunk.start):
                writer.write(np.full((24, 32, 3), value, np.uint8))
        parts.append((chunk, path))
    join_chunks(parts, source, tmp_path / "joined.mp4")
    levels = [float(frame.mean()) for frame in read_frames(tmp_path / "joined.mp4")]
    assert len(levels) == 10
    assert levels[:2] == pytest.approx([40, 40], abs=3) and levels[6:] == pytest.approx([200] * 4, abs=3)
    steps = np.diff(levels[1:7])
    assert (steps > 20).all() and (steps < 45).all()  # 40 → 200 in even steps across the 4 shared frames
