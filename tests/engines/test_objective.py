"""The tiled objective against the whole-picture one it stands in for."""

import pytest
import torch

from stylegram.engines.gatys import GatysOptions
from stylegram.engines.objective import StyleTarget, StyleTransferObjective
from stylegram.features.encoder import VGGEncoder


def loss_and_gradient(objective, image):
    image = image.clone().requires_grad_(True)
    terms = objective.evaluate(image)
    return terms, image.grad


def left_half(height, width):
    region = torch.zeros(1, 1, height, width)
    region[..., : width // 2] = 1
    return region


def make_objectives(options, tile_size, regions=False):
    encoder = VGGEncoder.load([*options.content_layers, *options.style_layers])
    generator = torch.Generator().manual_seed(0)
    photo = torch.rand(1, 3, 112, 160, generator=generator)
    paintings = [StyleTarget(torch.rand(1, 3, 96, 144, generator=generator))]
    if regions:
        left = left_half(112, 160)
        paintings = [
            StyleTarget(torch.rand(1, 3, 96, 144, generator=generator), 1.0, left, left_half(96, 144)),
            StyleTarget(torch.rand(1, 3, 64, 64, generator=generator) * 0.5, 0.5, 1 - left),
        ]
    whole = StyleTransferObjective(encoder, options.loss_weights())
    tiled = StyleTransferObjective(encoder, options.loss_weights(), tile_size=tile_size)
    for objective in (whole, tiled):
        objective.set_targets(photo, paintings)
    image = (photo + 0.1 * torch.randn(photo.shape, generator=generator)).clamp(0, 1)
    return whole, tiled, image


@pytest.mark.parametrize("style_loss", ["gram", "mean_cov"])
@pytest.mark.parametrize("regions", [False, True], ids=["blended", "regions"])
def test_tiles_give_the_exact_loss_and_gradient_when_features_see_no_padding(regions, style_loss):
    # relu1_1 sees 3x3 pixels, and the weighted part of a tile is 4 px from its cut edges: tiling must be exact.
    options = GatysOptions(
        content_layers={"relu1_1": 1.0}, style_layers={"relu1_1": 1.0}, tv_weight=1e-3, style_loss=style_loss
    )
    whole, tiled, image = make_objectives(options, tile_size=64, regions=regions)
    assert len(tiled.tiles) == 6 and len(whole.tiles) == 1
    whole_terms, whole_gradient = loss_and_gradient(whole, image)
    tiled_terms, tiled_gradient = loss_and_gradient(tiled, image)
    for name in ("content", "style", "tv", "total"):
        assert tiled_terms[name] == pytest.approx(whole_terms[name], rel=1e-4)
    torch.testing.assert_close(tiled_gradient, whole_gradient, rtol=1e-3, atol=1e-6 * whole_gradient.abs().max())


def test_tiles_stay_close_to_the_whole_picture_with_the_default_layers():
    # Deep layers see the tiles' zero padding, so the match is close, not exact.
    whole, tiled, image = make_objectives(GatysOptions(), tile_size=128)
    assert len(tiled.tiles) == 2
    whole_terms, whole_gradient = loss_and_gradient(whole, image)
    tiled_terms, tiled_gradient = loss_and_gradient(tiled, image)
    assert tiled_terms["style"] == pytest.approx(whole_terms["style"], rel=0.1)
    assert tiled_terms["content"] == pytest.approx(whole_terms["content"], rel=0.1)
    cosine = torch.nn.functional.cosine_similarity(tiled_gradient.flatten(), whole_gradient.flatten(), dim=0)
    assert cosine > 0.9


def test_a_region_style_pulls_only_its_own_region():
    # relu1_1 sees 3x3 pixels: the style term of a left-half region cannot move pixels 2 or more px right of it.
    options = GatysOptions(content_weight=0.0, style_layers={"relu1_1": 1.0}, tv_weight=0.0)
    encoder = VGGEncoder.load(["relu1_1", "relu4_2"])
    photo = torch.rand(1, 3, 48, 64, generator=torch.Generator().manual_seed(1))
    objective = StyleTransferObjective(encoder, options.loss_weights())
    objective.set_targets(photo, [StyleTarget(torch.rand(1, 3, 48, 64), region=left_half(48, 64))])
    _, gradient = loss_and_gradient(objective, photo)
    assert gradient[..., :30].abs().sum() > 0
    assert gradient[..., 34:].abs().max() == 0


def test_each_region_is_compared_with_its_own_style_only():
    options = GatysOptions(content_layers={"relu1_1": 1.0}, style_layers={"relu1_1": 1.0})
    encoder = VGGEncoder.load(["relu1_1"])
    dark, light = torch.full((1, 3, 32, 32), 0.1), torch.full((1, 3, 32, 32), 0.9)
    left = left_half(32, 64)
    picture = torch.cat([dark, light], dim=-1)
    matching, swapped = (StyleTransferObjective(encoder, options.loss_weights()) for _ in range(2))
    matching.set_targets(picture, [StyleTarget(dark, region=left), StyleTarget(light, region=1 - left)])
    swapped.set_targets(picture, [StyleTarget(light, region=left), StyleTarget(dark, region=1 - left)])
    matching_style = matching.evaluate(picture.clone().requires_grad_(True))["style"]
    swapped_style = swapped.evaluate(picture.clone().requires_grad_(True))["style"]
    # Not zero: positions next to the border and the picture's edges see other pixels than the styles' do.
    assert matching_style * 20 < swapped_style


def test_the_mean_and_covariance_loss_tells_a_shifted_painting_from_its_own_statistics():
    # The painting's own pixels moved elsewhere keep its statistics (but at the borders); washed out they do not.
    options = GatysOptions(content_weight=0.0, style_layers={"relu1_1": 1.0}, tv_weight=0.0, style_loss="mean_cov")
    encoder = VGGEncoder.load(["relu1_1", "relu4_2"])
    painting = torch.rand(1, 3, 48, 64, generator=torch.Generator().manual_seed(2))
    objective = StyleTransferObjective(encoder, options.loss_weights())
    objective.set_targets(painting, [StyleTarget(painting)])
    own, gradient = loss_and_gradient(objective, painting)
    assert own["style"] == pytest.approx(0.0, abs=1e-6) and gradient.abs().max() < 1e-3
    other, _ = loss_and_gradient(objective, painting.flip(-1).roll(7, dims=-2))
    assert other["style"] < 0.05  # the same statistics, other places: style, not content
    brighter, _ = loss_and_gradient(objective, (painting * 0.5 + 0.5))
    assert brighter["style"] > 20 * other["style"]
