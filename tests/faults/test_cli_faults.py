"""The faults a careless or hostile user of the command line found (issue 18): each must end in one line and
exit status 2 (or 130 when stopped), with no input lost and nothing half-written left behind."""

import hashlib
import os
import pickle
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from PIL import Image, PngImagePlugin

from stylegram.cli.main import main
from stylegram.training.run import checkpoint_path


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def refused(capsys, argv: list, *words: str) -> str:
    """Run the CLI; it must exit 2 with one ``stylegram: error:`` line naming ``words``."""
    assert main([str(item) for item in argv]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("stylegram: error:") and len(err.splitlines()) == 1, err
    assert "Traceback" not in err and all(word in err for word in words), err
    return err


@pytest.fixture
def inputs(tmp_path, content_path, style_path):
    photo, painting = tmp_path / "photo.png", tmp_path / "painting.png"
    photo.write_bytes(content_path.read_bytes())
    painting.write_bytes(style_path.read_bytes())
    return photo, painting


# 1. An output that is an input.


@pytest.mark.parametrize(
    "command",
    [
        lambda photo, painting, model: ["transfer", photo, "--model", model, "-o", photo],
        lambda photo, painting, model: ["transfer", photo, painting, "--engine", "adain", "-o", painting],
        lambda photo, painting, model: ["transfer", photo, f"{painting}:0.5", photo, "-o", painting, "--size", "32"],
        lambda photo, painting, model: [
            "transfer",
            photo,
            painting,
            "--init",
            photo,
            "-o",
            photo.parent / "." / photo.name,
        ],
        lambda photo, painting, model: ["recolor", painting, "--content", photo, "-o", photo],
    ],
    ids=["fast-photo", "adain-painting", "weighted-painting", "init-dot-path", "recolor"],
)
def test_an_output_naming_an_input_is_refused_and_the_input_kept(capsys, inputs, tiny_model, command):
    photo, painting = inputs
    before = digest(photo), digest(painting)
    refused(capsys, command(photo, painting, tiny_model), "also an input")
    assert (digest(photo), digest(painting)) == before


def test_an_output_reaching_an_input_through_a_link_is_refused(capsys, inputs, tiny_model, tmp_path):
    photo, _ = inputs
    (tmp_path / "link.png").symlink_to(photo)
    os.link(photo, tmp_path / "hard.png")
    for output in ("link.png", "hard.png"):
        refused(capsys, ["transfer", photo, "--model", tiny_model, "-o", tmp_path / output], "also an input")
    assert digest(photo) == digest(tmp_path / "hard.png")


def test_remake_refuses_to_overwrite_a_file_it_was_made_from(capsys, inputs, tiny_model, tmp_path):
    photo, _ = inputs
    made = tmp_path / "made.png"
    assert main(["transfer", str(photo), "--model", str(tiny_model), "-o", str(made), "-q"]) == 0
    before = digest(photo)
    refused(capsys, ["remake", made, "-o", photo], "also an input")
    assert digest(photo) == before


def test_video_refuses_to_overwrite_its_source(capsys, long_clip, tiny_model, tmp_path):
    source = tmp_path / "clip.mp4"
    source.write_bytes(long_clip.read_bytes())
    refused(capsys, ["video", source, "-o", source, "--model", tiny_model, "--size", "64"], "also an input")
    assert digest(source) == digest(long_clip)


def test_training_refuses_to_overwrite_the_decoder_it_starts_from(capsys, tmp_path, content_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.open(content_path).save(photos / "a.png")
    start = tmp_path / "start.safetensors"
    start.write_bytes(b"weights")
    command = ["train-decoder", "--layer", "relu1_1", "--photos", photos, "--style-share", "0", "--init", start]
    refused(capsys, [*command, "-o", start], "also an input")
    assert start.read_bytes() == b"weights"


# 2. Checkpoints load without running code.


class _Planted:
    """Unpickling this creates a file: what a checkpoint planted by someone else could do."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.fixture
def training(tmp_path, content_path, style_path):
    """A photo folder and a painting large enough to train on."""
    photos, painting = tmp_path / "photos", tmp_path / "painting.png"
    photos.mkdir()
    Image.open(content_path).save(photos / "a.png")
    Image.open(style_path).resize((160, 128)).save(painting)
    return ["train", "--style", painting, "--photos", photos, "--steps", "1", "-q"]


def test_a_planted_pickle_beside_the_output_is_refused_unrun(capsys, tmp_path, training):
    output, marker = tmp_path / "mine.safetensors", tmp_path / "code-ran"
    with open(checkpoint_path(output), "wb") as file:
        pickle.dump({"settings": _Planted(str(marker))}, file)
    refused(capsys, [*training, "-o", output], "not a stylegram checkpoint")
    assert not marker.exists() and not output.exists()


def test_a_foreign_checkpoint_of_plain_tensors_is_refused(capsys, tmp_path, training):
    output = tmp_path / "mine.safetensors"
    torch.save({"settings": {}, "net": {}, "step": 3, "log": []}, checkpoint_path(output))
    refused(capsys, [*training, "-o", output], "not a stylegram checkpoint")


# 10. Thin, tiny and huge sizes; untrusted metadata.


@pytest.fixture
def thin(tmp_path):
    wide, tall = tmp_path / "wide.png", tmp_path / "tall.png"
    Image.new("RGB", (4000, 2), (200, 90, 40)).save(wide)
    Image.new("RGB", (2, 4000), (40, 90, 200)).save(tall)
    return wide, tall


@pytest.mark.parametrize("engine", ["gatys", "adain", "wct"])
def test_thin_images_are_refused_by_every_engine(capsys, thin, inputs, engine, tmp_path):
    wide, tall = thin
    photo, painting = inputs
    output = tmp_path / "out.png"
    refused(capsys, ["transfer", wide, painting, "--engine", engine, "-o", output], "4000x2", "at least")
    refused(capsys, ["transfer", photo, tall, "--engine", engine, "-o", output], "2x4000", "at least")
    assert not output.exists()


def test_thin_photos_are_refused_by_the_fast_engine_and_eval(capsys, thin, inputs, tiny_model, tmp_path):
    wide, _ = thin
    photo, _ = inputs
    refused(capsys, ["transfer", wide, "--model", tiny_model, "-o", tmp_path / "o.png"], "4000x2")
    refused(capsys, ["eval", "--content", photo, wide], "4000x2")
    one = tmp_path / "one.png"
    Image.new("RGB", (1, 1)).save(one)
    refused(capsys, ["eval", "--content", photo, one], "1x1")
    refused(capsys, ["eval", "--size", "0", "--content", photo, photo], "at least")


def test_video_refuses_a_size_of_nothing(capsys, long_clip, tiny_model, tmp_path):
    refused(capsys, ["video", long_clip, "-o", tmp_path / "o.mp4", "--model", tiny_model, "--size", "0"], "at least")
    assert list(tmp_path.iterdir()) == []


def test_a_size_beyond_the_machines_memory_is_refused_at_once(capsys, inputs, tiny_model, tmp_path):
    photo, painting = inputs
    started = time.monotonic()
    refused(capsys, ["transfer", photo, "--model", tiny_model, "--size", "100000", "-o", tmp_path / "o.png"], "GiB")
    refused(capsys, ["transfer", photo, painting, "--size", "100000", "-o", tmp_path / "o.png"], "GiB")
    assert time.monotonic() - started < 30  # refused before any resizing, not after a long allocation


@pytest.mark.parametrize(
    ("text", "words"),
    [("{not json", "not JSON"), ('{"content": "a.png"}', "lacks engine"), ("[1, 2]", "not a record"),
     ('{"engine": "nope", "content": "a", "styles": [], "size": 64, "seed": 0, "device": "cpu"}', "unknown engine"),
     ('{"engine": "gatys", "content": 3, "styles": [], "size": 64, "seed": 0, "device": "cpu"}', "content path"),
     ('{"engine": "gatys", "content": "a", "styles": [7], "size": 64, "seed": 0, "device": "cpu"}', "style")],
)  # fmt: skip
def test_remake_treats_metadata_as_untrusted(capsys, tmp_path, text, words):
    picture = tmp_path / "picture.png"
    info = PngImagePlugin.PngInfo()
    info.add_text("stylegram", text)
    Image.new("RGB", (64, 64)).save(picture, pnginfo=info)
    refused(capsys, ["remake", picture, "-o", tmp_path / "again.png"], words)


# 12. Long names, NaN pixels.


def test_the_longest_legal_output_name_is_written(inputs, tiny_model, tmp_path):
    photo, _ = inputs
    output = tmp_path / ("a" * 251 + ".png")  # 255 bytes: the longest name the file system takes
    assert main(["transfer", str(photo), "--model", str(tiny_model), "-o", str(output), "-q"]) == 0
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(["photo.png", "painting.png", output.name])


def test_a_name_over_the_limit_is_refused_before_the_work(capsys, inputs, tiny_model, tmp_path):
    photo, _ = inputs
    refused(capsys, ["transfer", photo, "--model", tiny_model, "-o", tmp_path / ("a" * 252 + ".png")], "bytes long")


def test_a_float_tiff_with_nan_pixels_is_refused(capsys, tiny_model, tmp_path):
    values = np.random.default_rng(0).random((40, 40), dtype=np.float32)
    values[3, 4] = np.nan
    tiff = tmp_path / "nan.tif"
    Image.fromarray(values, mode="F").save(tiff)
    refused(capsys, ["transfer", tiff, "--model", tiny_model, "-o", tmp_path / "o.png"], "NaN")


# 11. SIGTERM as Ctrl-C.


def _started(command: list, cwd, until) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-m", "stylegram", *map(str, command)], cwd=cwd, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 120
    while not until():
        assert process.poll() is None, process.stderr.read()
        assert time.monotonic() < deadline, "the command never got going"
        time.sleep(0.05)
    return process


def test_sigterm_ends_a_transfer_with_its_best_picture(inputs, tmp_path):
    photo, painting = inputs
    output = tmp_path / "out.png"
    command = ["transfer", photo, painting, "-o", output, "--size", "64", "--iterations", "5000", "--save-every", "2"]
    process = _started(command, tmp_path, lambda: any(tmp_path.glob("out_0*.png")))
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "wrote the best image so far" in err and "Traceback" not in err
    assert Image.open(output).size == (64, 48)


def test_sigterm_during_a_video_leaves_no_part_file(long_clip, tiny_model, tmp_path):
    output = tmp_path / "out.mp4"
    command = ["video", long_clip, "-o", output, "--model", tiny_model]
    process = _started(command, tmp_path, lambda: any(path.stat().st_size for path in tmp_path.glob(".out.mp4*")))
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130 and "Traceback" not in err, err
    assert list(tmp_path.iterdir()) == []
