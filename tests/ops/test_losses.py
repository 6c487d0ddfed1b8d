import pytest
import torch

from stylegram.ops.gram import gram_matrix
from stylegram.ops.losses import content_term, relative_squared_error, style_term, total_variation_loss


def test_relative_squared_error_by_hand():
    # ‖(1,1) − (2,0)‖² = 1 + 1 = 2; ‖(2,0)‖² = 4.
    assert relative_squared_error(torch.tensor([1.0, 1.0]), torch.tensor([2.0, 0.0])).item() == pytest.approx(0.5)


def content_loss(features, target):
    return content_term({"layer": features}, {"layer": target}, {"layer": 1.0})


def style_loss(features, target_gram):
    return style_term({"layer": features}, {"layer": target_gram}, {"layer": 1.0})


def test_content_term_is_zero_on_target_and_scale_free():
    target = torch.randn(1, 4, 3, 3)
    assert content_loss(target, target).item() == 0.0
    moved = target + 0.1 * torch.randn_like(target)
    assert content_loss(moved, target).item() == pytest.approx(content_loss(10 * moved, 10 * target).item(), rel=1e-5)


def test_terms_add_their_layers_by_weight():
    features = {"a": torch.zeros(1, 2, 2, 2), "b": torch.ones(1, 2, 2, 2)}
    targets = {"a": torch.ones(1, 2, 2, 2), "b": torch.ones(1, 2, 2, 2)}
    assert content_term(features, targets, {"a": 0.5, "b": 3.0}).item() == pytest.approx(0.5)
    grams = {"a": gram_matrix(torch.ones(1, 2, 2, 2)), "b": gram_matrix(torch.ones(1, 2, 2, 2))}
    batch = {name: value.expand(3, -1, -1, -1) for name, value in features.items()}  # one target, three pictures
    assert style_term(batch, grams, {"a": 2.0, "b": 1.0}).item() == pytest.approx(2.0)


def test_style_term_by_hand():
    features = torch.tensor([[[[1.0, 2.0]], [[3.0, 4.0]]]])  # Gram [[1.25, 2.75], [2.75, 6.25]]
    target = torch.tensor([[[1.25, 2.75], [2.75, 5.25]]])  # differs by 1 in one entry
    expected = 1.0 / (1.25**2 + 2 * 2.75**2 + 5.25**2)
    assert style_loss(features, target).item() == pytest.approx(expected, rel=1e-6)
    assert style_loss(features, gram_matrix(features)).item() == 0.0


def test_total_variation_by_hand():
    # Across: (10, 30) → diffs 10 and 30 (in 0..255 units), mean of squares 500; down: 0.
    image = torch.tensor([[[[0.0, 10.0, 40.0]]]]).repeat(1, 1, 2, 1) / 255
    assert total_variation_loss(image).item() == pytest.approx(500.0, rel=1e-5)
    assert total_variation_loss(torch.full((1, 3, 4, 4), 0.3)).item() == 0.0
