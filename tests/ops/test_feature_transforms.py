"""AdaIN and WCT statistics, maps, blending and regions, on random features with known statistics."""

import pytest
import torch

from stylegram.errors import InputError
from stylegram.ops.feature_transforms import adain, channel_moments, feature_statistics, statistics_map, transfer


def _correlated(channels: int, positions: int, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    mixing = torch.randn(channels, channels, generator=generator)
    offset = 3 * torch.randn(channels, 1, generator=generator)
    return (mixing @ torch.randn(channels, positions, generator=generator) + offset).reshape(1, channels, 16, -1)


def _covariance(features: torch.Tensor) -> torch.Tensor:
    flat = features[0].reshape(features.shape[1], -1).double()
    centred = flat - flat.mean(1, keepdim=True)
    return centred @ centred.T / flat.shape[1]


def test_wct_carries_over_the_whole_covariance_and_adain_only_its_diagonal():
    content, style = _correlated(6, 16 * 20, seed=1), _correlated(6, 16 * 24, seed=2)
    for method in ("wct", "adain"):
        moved = statistics_map(feature_statistics(content, method), feature_statistics(style, method))(content)
        assert torch.allclose(moved.mean(dim=(2, 3)), style.mean(dim=(2, 3)), atol=1e-3)
        assert torch.allclose(_covariance(moved).diagonal(), _covariance(style).diagonal(), rtol=1e-3)
        off_diagonal = ~torch.eye(6, dtype=torch.bool)
        error = (_covariance(moved) - _covariance(style))[off_diagonal].abs().max()
        if method == "wct":
            assert error < 1e-2
        else:  # AdaIN keeps the photo's correlations, which differ from the painting's
            assert error > 0.5


def test_batched_adain_matches_each_image_to_its_own_style():
    content = torch.rand(2, 3, 8, 8)
    style = torch.stack([torch.full((3, 4, 4), 5.0), torch.full((3, 4, 4), -2.0)]) + torch.rand(2, 3, 4, 4)
    mean, std = channel_moments(adain(content, style))
    style_mean, style_std = channel_moments(style)
    assert torch.allclose(mean, style_mean, atol=1e-4) and torch.allclose(std, style_std, atol=1e-3)


def test_statistics_over_a_mask_ignore_the_rest():
    features = torch.zeros(1, 2, 4, 8)
    features[..., :4] = 1.0
    features[..., 4:] = 9.0
    left = torch.zeros(1, 1, 4, 8)
    left[..., :4] = 1
    assert feature_statistics(features, "adain", left).mean.flatten().tolist() == [1.0, 1.0]
    assert feature_statistics(features, "adain").mean.flatten().tolist() == [5.0, 5.0]


def test_strength_blends_with_the_photo_and_styles_blend_by_weight():
    content = torch.rand(1, 3, 8, 8)
    source = feature_statistics(content, "adain")
    bright, dark = (feature_statistics(torch.full((1, 3, 4, 4), value) + torch.rand(1, 3, 4, 4), "adain")
                    for value in (10.0, 0.0))  # fmt: skip
    to_bright, to_dark = statistics_map(source, bright), statistics_map(source, dark)
    half = transfer(content, [to_bright], [1.0], strength=0.5)
    assert torch.allclose(half, (content + to_bright(content)) / 2, atol=1e-5)
    blended = transfer(content, [to_bright, to_dark], [3.0, 1.0])
    assert torch.allclose(blended, 0.75 * to_bright(content) + 0.25 * to_dark(content), atol=1e-5)


def test_each_region_takes_its_own_style():
    torch.manual_seed(0)
    content = torch.rand(1, 3, 8, 16)
    left = torch.zeros(1, 1, 8, 16)
    left[..., :8] = 1
    styles = [feature_statistics(torch.full((1, 3, 4, 4), value) + torch.rand(1, 3, 4, 4), "adain")
              for value in (10.0, -10.0)]  # fmt: skip
    regions = [left, 1 - left]
    maps = [statistics_map(feature_statistics(content, "adain", region), style)
            for region, style in zip(regions, styles, strict=True)]  # fmt: skip
    moved = transfer(content, maps, [1.0, 1.0], regions=regions)
    assert moved[..., :8].mean() == pytest.approx(10.5, abs=0.1)
    assert moved[..., 8:].mean() == pytest.approx(-9.5, abs=0.1)
    lighter = transfer(content, maps, [1.0, 0.5], regions=regions)  # the lighter style paints half as strongly
    assert torch.allclose(lighter[..., 8:], (content[..., 8:] + moved[..., 8:]) / 2, atol=1e-4)


def test_flat_style_gives_flat_features_not_a_division_by_zero():
    content = torch.rand(1, 4, 8, 8)
    flat = feature_statistics(torch.full((1, 4, 8, 8), 2.0), "wct")
    moved = statistics_map(feature_statistics(content, "wct"), flat)(content)
    assert torch.isfinite(moved).all() and (moved - 2.0).abs().max() < 0.05


def test_unknown_method_is_refused():
    with pytest.raises(InputError, match="unknown feature transform 'gram'"):
        feature_statistics(torch.rand(1, 2, 4, 4), "gram")


def _sparse(positions: int, seed: int, scale: float, shift: float) -> torch.Tensor:
    """ReLU-like features: skewed, with many exact zeros."""
    generator = torch.Generator().manual_seed(seed)
    return torch.relu(scale * torch.randn(1, 3, 16, positions // 16, generator=generator) ** 3 + shift)


def test_efdm_carries_over_the_whole_distribution_of_each_channel():
    content, style = _sparse(16 * 40, seed=1, scale=1.0, shift=0.0), _sparse(16 * 24, seed=2, scale=2.0, shift=1.0)
    moved = statistics_map(feature_statistics(content, "efdm"), feature_statistics(style, "efdm"))(content)
    probabilities = torch.linspace(0.6, 0.9, 7)  # above the photo's zeros (about half of each channel), below the tail
    for channel in range(3):
        wanted = torch.quantile(style[0, channel].flatten(), probabilities)
        got = torch.quantile(moved[0, channel].flatten(), probabilities)
        assert (got - wanted).abs().max() < 0.05 * style[0, channel].std()  # the skew, not only two moments
        # The photo's zeros are tied: together they get the mean of the painting's values in that share.
        zeros = content[0, channel] == 0
        share = float(zeros.float().mean())
        lowest = style[0, channel].flatten().sort().values[: round(share * style[0, channel].numel())]
        assert float(moved[0, channel][zeros].mean()) == pytest.approx(float(lowest.mean()), abs=0.05)
    assert torch.allclose(moved.mean(dim=(2, 3)), style.mean(dim=(2, 3)), rtol=2e-2)
    adain_moved = statistics_map(feature_statistics(content, "adain"), feature_statistics(style, "adain"))(content)
    assert (torch.quantile(adain_moved[0, 0].flatten(), probabilities) - wanted).abs().max() > 0.2
    # Rank order is kept: EFDM is monotone per channel, so the photo's structure stays.
    order = content[0, 0].flatten().argsort()
    assert (moved[0, 0].flatten()[order].diff() >= -1e-6).all()


def test_efdm_of_a_picture_to_itself_changes_nothing_and_works_over_regions():
    content = _sparse(16 * 16, seed=3, scale=1.0, shift=0.5)
    itself = feature_statistics(content, "efdm")
    assert torch.allclose(statistics_map(itself, itself)(content), content, atol=1e-5)
    left = torch.zeros(1, 1, 16, 16)
    left[..., :8] = 1
    styles = [
        feature_statistics(torch.full((1, 3, 4, 4), value) + torch.rand(1, 3, 4, 4), "efdm") for value in (10.0, -10.0)
    ]
    regions = [left, 1 - left]
    maps = [statistics_map(feature_statistics(content, "efdm", region), style)
            for region, style in zip(regions, styles, strict=True)]  # fmt: skip
    moved = transfer(content, maps, [1.0, 1.0], regions=regions)
    assert moved[..., :8].mean() == pytest.approx(10.5, abs=0.1)
    assert moved[..., 8:].mean() == pytest.approx(-9.5, abs=0.1)


def test_large_feature_maps_give_the_same_statistics_from_a_spread_of_positions(monkeypatch):
    from stylegram.ops import feature_transforms

    features = _correlated(4, 16 * 512, seed=4)
    whole = feature_statistics(features, "wct")
    monkeypatch.setattr(feature_transforms, "MAX_STATISTICS_POSITIONS", 16 * 512 // 4)
    spread = feature_statistics(features, "wct")
    assert torch.allclose(spread.mean, whole.mean, atol=0.05 * whole.spread.diagonal().sqrt().min())
    assert torch.allclose(spread.spread, whole.spread, rtol=0.1, atol=0.05 * whole.spread.abs().max())
