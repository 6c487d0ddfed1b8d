"""The tiled objective against the whole-picture one it stands in for."""

import pytest
import torch

from stylegram.engines.gatys import GatysOptions
from stylegram.engines.objective import StyleTransferObjective
from stylegram.features.encoder import VGGEncoder


def loss_and_gradient(objective, image):
    image = image.clone().requires_grad_(True)
    terms = objective.evaluate(image)
    return terms, image.grad


def make_objectives(options, tile_size):
    encoder = VGGEncoder.load([*options.content_layers, *options.style_layers])
    generator = torch.Generator().manual_seed(0)
    photo = torch.rand(1, 3, 112, 160, generator=generator)
    paintings = [(torch.rand(1, 3, 96, 144, generator=generator), 1.0)]
    whole = StyleTransferObjective(encoder, options)
    tiled = StyleTransferObjective(encoder, options, tile_size=tile_size)
    for objective in (whole, tiled):
        objective.set_targets(photo, paintings)
    image = (photo + 0.1 * torch.randn(photo.shape, generator=generator)).clamp(0, 1)
    return whole, tiled, image


def test_tiles_give_the_exact_loss_and_gradient_when_features_see_no_padding():
    # relu1_1 sees 3x3 pixels, and the weighted part of a tile is 4 px from its cut edges: tiling must be exact.
    options = GatysOptions(content_layers={"relu1_1": 1.0}, style_layers={"relu1_1": 1.0}, tv_weight=1e-3)
    whole, tiled, image = make_objectives(options, tile_size=64)
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
