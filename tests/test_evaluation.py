import pytest
import torch
from PIL import Image

from stylegram.evaluation import evaluate, ssim


def test_content_scores_perfectly_against_itself(content_path, style_path):
    figures = evaluate([content_path], content=content_path, style=style_path, size=64).outputs[0]
    assert figures["ssim"] == pytest.approx(1.0)
    assert figures["pixel_mse"] == 0.0
    assert figures["content_distance"] == 0.0
    assert figures["style_distance"] > 0.1
    assert set(figures["style_distance_per_layer"]) == {"relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"}


def test_style_image_matches_its_own_style(style_path):
    figures = evaluate([style_path], style=style_path, size=64).outputs[0]
    assert figures["style_distance"] == pytest.approx(0.0, abs=1e-5)
    assert "ssim" not in figures


def test_ssim_drops_with_noise():
    image = torch.rand(1, 3, 32, 32)
    noisy = (image + 0.2 * torch.randn_like(image)).clamp(0, 1)
    assert ssim(image, noisy) < 0.9


def test_diversity(content_path, style_path):
    same = evaluate([content_path, content_path], content=content_path, size=64)
    assert same.diversity == 0.0
    different = evaluate([content_path, style_path, Image.new("RGB", (64, 48), "grey")], size=64)
    assert different.diversity > 0.1
    assert evaluate([content_path], content=content_path, size=64).diversity is None


def test_default_working_size_is_the_first_outputs_own(content_path, style_path):
    small = Image.open(content_path).resize((32, 24))
    report = evaluate([small, content_path], content=content_path, style=style_path)
    assert [figures["size"] for figures in report.outputs] == [[32, 24], [32, 24]]
    assert evaluate([content_path], content=content_path, size=48).outputs[0]["size"] == [48, 36]


def test_structure_figures_see_blur_and_not_colour(content_path, style_path):
    from PIL import ImageFilter, ImageOps

    photo = Image.open(content_path).convert("RGB")
    regraded = ImageOps.colorize(ImageOps.grayscale(photo), "navy", "orange")  # new colours, same structure
    blurred = photo.filter(ImageFilter.GaussianBlur(2))
    same, recoloured, soft = evaluate([photo, regraded, blurred], content_path, style_path).outputs
    assert same["structure_ssim"] == pytest.approx(1.0) and same["gradient_ssim"] == pytest.approx(1.0)
    assert recoloured["gradient_ssim"] > soft["gradient_ssim"] + 0.2
    assert recoloured["structure_ssim"] > soft["structure_ssim"]
    assert 0 <= same["histogram_distance"] <= 1
    assert recoloured["histogram_distance"] != same["histogram_distance"]
