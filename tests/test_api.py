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
