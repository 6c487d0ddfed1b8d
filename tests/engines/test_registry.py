"""Adding an engine is one file: a toy engine, defined here and registered, reaches every front end (the CLI's
choices, flags and ``engines`` list, the service's checks and ``GET /v1/engines``, video and live) without a
line changed anywhere else."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pytest
from clips import write_clip
from PIL import Image

from stylegram.api import engine_info, stylize, stylize_video
from stylegram.cli.main import main
from stylegram.engines.base import Request, Result, check_request, picture_size, request_record
from stylegram.engines.registry import EngineInfo, engine_names, option, register, unregister
from stylegram.errors import InputError
from stylegram.io.image import image_to_tensor, load_image, resize
from stylegram.server import create_app
from stylegram.server.live import live_engines
from stylegram.server.schemas import JobParams, check_job
from stylegram.server.settings import ServiceSettings


@dataclass
class ToyOptions:
    grain: float = option(0.5, "how much of the painting's mean colour covers the photo")


class ToyEngine:
    """The painting's mean colour laid over the photo."""

    info: ClassVar[EngineInfo] = EngineInfo(
        "toy", "Toy", "the painting's mean colour over the photo", ToyOptions, video="blend", live=True, max_size=256
    )

    def run(self, request: Request, on_progress=None) -> Result:
        check_request(request)
        options = request.options or ToyOptions()
        if not 0 <= options.grain <= 1:
            raise InputError(f"grain must be between 0 and 1, got {options.grain}")
        photo = load_image(request.content, what="content image")
        content = image_to_tensor(resize(photo, picture_size(photo.size, request.size, "content image")))
        colour = image_to_tensor(load_image(request.styles[0].image)).mean((2, 3), keepdim=True)
        record = request_record(request, self.info.name) | {"run": {}}
        return Result.of(content + options.grain * (colour - content), options=record)


@pytest.fixture
def toy():
    register(ToyEngine)
    yield ToyEngine.info
    unregister("toy")


@pytest.fixture
def red(tmp_path):
    path = tmp_path / "red.png"
    Image.new("RGB", (32, 32), (255, 0, 0)).save(path)
    return path


def test_a_registered_engine_is_listed_and_takes_its_own_flag(toy, tmp_path, content_path, red, capsys):
    assert "toy" in engine_names(video="blend") and engine_info("toy") is toy
    assert main(["engines"]) == 0
    assert "the painting's mean colour over the photo" in capsys.readouterr().out
    output = tmp_path / "toy.png"
    assert main(["transfer", str(content_path), str(red), "-o", str(output), "--engine", "toy", "--grain", "1",
                 "--size", "32", "-q"]) == 0  # fmt: skip
    with Image.open(output) as picture:
        assert picture.getpixel((5, 5)) == (255, 0, 0)
    assert main(["transfer", str(content_path), str(red), "-o", str(output), "--engine", "adain", "--grain", "1"]) == 2
    assert "--grain is not an option of the adain engine" in capsys.readouterr().err


def test_a_registered_engine_is_offered_and_checked_by_the_service(toy, tmp_path):
    from fastapi.testclient import TestClient

    settings = ServiceSettings(data_dir=tmp_path)
    with TestClient(create_app(settings, collect=False), base_url="http://localhost") as client:
        described = {info["name"]: info for info in client.get("/v1/engines").json()}
    assert described["toy"]["max_size"] == 256 and described["toy"]["options"] == {
        "grain": ToyOptions.__dataclass_fields__["grain"].metadata["help"]
    }
    assert described["fast"]["style_input"] == "model" and described["gatys"]["video"] == "optimise"
    check_job(JobParams(engine="toy", style="starry_night", size=256), False, settings)
    with pytest.raises(InputError, match="over this server's limit of 256 px for the toy jobs"):
        check_job(JobParams(engine="toy", style="starry_night", size=512), False, settings)
    with pytest.raises(InputError, match="regions are painted by the engines"):
        check_job(
            JobParams(engine="toy", style="starry_night", size=128, regions="auto", match_regions=True), False, settings
        )
    assert "toy" in live_engines()


def test_a_registered_engine_that_declares_video_paints_a_clip(toy, tmp_path, red):
    clip, output = write_clip(tmp_path / "clip.mp4", frames=6), tmp_path / "toy.mp4"
    result = stylize_video(clip, output, engine="toy", style=red, temporal_strength=0.5)
    assert result.frames == 6 and result.options["engine"] == "toy"
    reddest = max(frame[..., 0].mean() - frame[..., 1:].mean() for frame in _frames(output))
    assert reddest > 40  # the toy's half-red over every frame


def test_an_unknown_engine_is_refused_by_every_front_end():
    with pytest.raises(InputError, match="unknown engine 'nope'"):
        stylize("photo.png", "painting.png", engine="nope")
    with pytest.raises(ValueError, match="unknown engine 'nope'"):
        JobParams(engine="nope")


def _frames(path):
    from stylegram.io.video import read_frames

    return [np.asarray(frame, dtype=float) for frame in read_frames(path)]
