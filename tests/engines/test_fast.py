"""The feed-forward engine with a tiny untrained network: fast, and enough to check the plumbing."""

import pytest
import torch

from stylegram.api import stylize
from stylegram.engines.fast import run_network
from stylegram.errors import InputError
from stylegram.io.image import image_to_tensor, load_image
from stylegram.models.store import save_style_model
from stylegram.models.transformer import TransformerNet


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("models") / "tiny.safetensors"
    return save_style_model(TransformerNet((8, 8, 16), 1), path, {"style": "noise"})


def test_tiles_match_the_whole_picture(model_path):
    from stylegram.models.store import load_style_model

    net, _ = load_style_model(model_path)
    picture = torch.rand(1, 3, 256, 1024, generator=torch.Generator().manual_seed(1))
    whole = run_network(net, picture)
    tiled = run_network(net, picture, tile_size=512)  # 3 tiles, 128 px overlaps
    assert (tiled - whole).abs().mean() < 2e-3
    assert (tiled - whole).abs().max() < 0.05


def test_engine_options_strength_and_colour(model_path, content_path):
    photo = image_to_tensor(load_image(content_path))
    full = stylize(content_path, [], engine="fast", model=str(model_path), size=None)
    assert full.image.size == (64, 48) and full.options["run"]["precision"] in ("fp32", "bf16")
    none = stylize(content_path, [], engine="fast", model=str(model_path), size=None, strength=0.0)
    assert (image_to_tensor(none.image) - photo).abs().max() <= 1 / 255
    kept = stylize(content_path, [], engine="fast", model=str(model_path), size=None, color="luminance")
    assert kept.options["color"] == "luminance"
    with pytest.raises(InputError, match="give --model, not a style image"):
        stylize(content_path, content_path, engine="fast", model=str(model_path))
    with pytest.raises(InputError, match="strength must be between 0 and 1"):
        stylize(content_path, [], engine="fast", model=str(model_path), strength=2.0)


def test_styles_are_listed_and_found_by_name(model_path, content_path, monkeypatch, capsys):
    from stylegram import api
    from stylegram.cli.main import main
    from stylegram.models import store

    monkeypatch.setattr(store, "shipped_styles", lambda: {"tiny": model_path})
    monkeypatch.setattr(api, "shipped_styles", lambda: {"tiny": model_path})
    assert main(["styles"]) == 0
    assert capsys.readouterr().out.startswith("tiny")
    result = stylize(content_path, [], engine="fast", model="tiny", size=32)
    assert result.image.size == (32, 24) and result.options["model"] == "tiny"
    with pytest.raises(InputError, match=r"unknown model 'starry': not a shipped style \(tiny\)"):
        stylize(content_path, [], engine="fast", model="starry")


def test_onnxruntime_gives_the_same_picture_as_torch(model_path, content_path):
    torch_result = stylize(content_path, [], engine="fast", model=str(model_path), size=None, precision="fp32")
    onnx_result = stylize(content_path, [], engine="fast", model=str(model_path), size=None, runtime="onnxruntime")
    assert onnx_result.options["run"]["runtime"] == "onnxruntime"
    difference = image_to_tensor(onnx_result.image) - image_to_tensor(torch_result.image)
    assert difference.abs().max() <= 1 / 255
