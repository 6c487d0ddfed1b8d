import numpy as np
import pytest
from PIL import Image

import stylegram
from stylegram.errors import InputError


def test_stylize_takes_paths_or_pil_and_blends_styles(content_path, style_path):
    result = stylegram.stylize(
        Image.open(content_path),
        [(style_path, 0.7), (Image.new("RGB", (64, 64), "orange"), 0.3)],
        size=48,
        iterations=3,
    )
    assert isinstance(result.image, Image.Image)
    assert result.image.size == (48, 36)
    assert [s["weight"] for s in result.options["styles"]] == [0.7, 0.3]
    assert result.options["content"] == "<image 64x48>"


def test_unknown_option_is_named(content_path, style_path):
    with pytest.raises(InputError, match="unknown option 'iteration' for engine gatys"):
        stylegram.stylize(content_path, style_path, iteration=3)


def test_version_and_engines():
    assert stylegram.__version__.count(".") == 2
    assert "gatys" in stylegram.engine_names()


@pytest.mark.parametrize("engine", ["fast", "adain", "gatys"])
def test_a_logo_with_transparency_keeps_its_alpha_exactly_and_jpeg_is_refused(engine, tmp_path, style_path, capsys):
    from stylegram.cli.main import main

    logo = Image.new("RGBA", (96, 64), (0, 0, 0, 0))
    logo.paste((30, 90, 200, 255), (16, 8, 80, 56))
    logo.paste((200, 30, 30, 128), (0, 0, 8, 8))  # half transparent: kept as it was, alpha and all
    path = tmp_path / "logo.png"
    logo.save(path)
    style = [] if engine == "fast" else style_path
    options = {"model": "starry_night"} if engine == "fast" else {"iterations": 3} if engine == "gatys" else {}
    picture = stylegram.stylize(path, style, engine=engine, size=None, **options).image
    assert picture.mode == "RGBA" and picture.size == logo.size
    assert np.array_equal(np.asarray(picture.getchannel("A")), np.asarray(logo.getchannel("A")))
    visible = np.asarray(picture)[8:56, 16:80, :3].astype(int)
    assert np.abs(visible - [30, 90, 200]).mean() > 5  # the visible part was painted
    code = main(["transfer", str(path), "--model", "starry_night", "-o", str(tmp_path / "logo.jpg")])
    assert code == 2 and "transparency, which JPEG cannot hold" in capsys.readouterr().err
    assert not (tmp_path / "logo.jpg").exists()
