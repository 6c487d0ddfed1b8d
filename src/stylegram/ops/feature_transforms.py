"""Moving a photo's VGG features to a painting's statistics: AdaIN and the whitening–colouring transform.

* AdaIN (Huang & Belongie 2017): each channel gets the painting's mean and standard deviation.
* WCT (Li et al. 2017): the features are whitened (their covariance made the identity) and coloured with the
  painting's covariance, so correlations between channels, the texture itself, are carried over too.
* EFDM (exact feature distribution matching, Zhang et al. 2022): each channel's values take the painting's
  whole distribution, by rank: a photo's value at quantile p becomes the painting's value at quantile p, so
  skew and sparsity carry over, not only mean and deviation.

Statistics are taken once per painting (:func:`feature_statistics`) and may be weighted over a region of it;
:func:`transfer` applies one or several of them to a photo's features, each optionally in its own region of
the photo, and mixes the result with the photo's own features by ``strength``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch.nn import functional

from stylegram.cpu import eigh
from stylegram.errors import InputError

METHODS = ("adain", "wct", "efdm")
#: Quantiles per channel that summarise a distribution for EFDM: a monotone curve through this many knots
#: moves values between two distributions (a finer one changed nothing visible at relu4_1's few thousand
#: positions and cost more).
QUANTILES = 256
#: Added to variances (AdaIN) and covariance diagonals (WCT): flat channels must not divide by zero.
EPSILON = 1e-5
#: Statistics of a larger feature map are taken on an even spread of this many of its positions: the finish at
#: relu1_1 of a 512 px picture has 196 608 positions for a 64×64 covariance, and a quarter of them give the same
#: statistics to the third decimal for a third of the time.
MAX_STATISTICS_POSITIONS = 65536
#: Eigenvalues below this share of the largest are dropped when whitening: they are noise, and their inverse
#: square roots would amplify it.
EIGEN_FLOOR = 1e-5


def channel_moments(features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per image and channel, the mean and standard deviation over positions, each ``(N, C, 1, 1)``.

    Example:
        >>> mean, std = channel_moments(torch.tensor([[[[1.0, 3.0]]]]))
        >>> float(mean), round(float(std), 3)
        (2.0, 1.0)
    """
    variance, mean = torch.var_mean(features, dim=(2, 3), keepdim=True, correction=0)
    return mean, (variance + EPSILON).sqrt()


def adain(content: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
    """Adaptive instance normalisation of a batch: each ``content`` image's features given the channel means and
    deviations of the ``style`` image of the same index (Huang & Belongie 2017, eq. 8).

    Example:
        >>> content, style = torch.rand(2, 3, 8, 8), 5 + 2 * torch.rand(2, 3, 4, 4)
        >>> torch.allclose(channel_moments(adain(content, style))[0], channel_moments(style)[0], atol=1e-4)
        True
    """
    content_mean, content_std = channel_moments(content)
    style_mean, style_std = channel_moments(style)
    return (content - content_mean) / content_std * style_std + style_mean


@dataclass
class FeatureStatistics:
    """Features at one layer, summarised for ``method``.

    Attributes:
        method: ``adain``, ``wct`` or ``efdm``.
        mean: ``(C, 1)`` channel means.
        spread: ``(C, 1)`` standard deviations (AdaIN), the ``(C, C)`` covariance (WCT), or ``(C, QUANTILES)``
            values at evenly spaced quantiles (EFDM).
    """

    method: str
    mean: torch.Tensor
    spread: torch.Tensor
    _powers: dict[float, torch.Tensor] = field(default_factory=dict, repr=False, compare=False)

    def covariance_power(self, power: float) -> torch.Tensor:
        """The WCT covariance to ``power`` (½ colours, −½ whitens), computed once: a painting's statistics are
        kept across pictures, and its square root is an eigendecomposition of a 512×512 matrix."""
        if power not in self._powers:
            self._powers[power] = _symmetric_power(self.spread, power)
        return self._powers[power]


@dataclass
class AffineMap:
    """``features ↦ matrix @ features + offset`` over channels, the whole of an AdaIN or WCT step.

    Attributes:
        matrix: ``(C, C)``, or ``(C, 1)`` for a per-channel scale (AdaIN).
        offset: ``(C, 1)``.
    """

    matrix: torch.Tensor
    offset: torch.Tensor

    def __call__(self, features: torch.Tensor) -> torch.Tensor:
        """Apply to ``(N, C, H, W)`` features, in their precision and memory layout.

        As a 1×1 convolution (or a per-channel scale) in the features' own type: a bfloat16 map of a 512 px
        picture's relu1_1 features then takes a quarter of the time of a float32 product over a flattened copy,
        and the decoder after it gets the layout it runs fastest in.
        """
        channels, dtype = features.shape[1], features.dtype
        offset = self.offset.to(dtype).flatten()
        if self.matrix.shape[1] == 1:
            return torch.addcmul(
                offset.view(1, channels, 1, 1), features, self.matrix.to(dtype).view(1, channels, 1, 1)
            )
        return functional.conv2d(features, self.matrix.to(dtype).view(channels, channels, 1, 1), offset)


@dataclass
class QuantileMap:
    """Per channel, the monotone curve through ``(source[c, j], target[c, j])``: a value at the source
    distribution's quantile p goes to the target's value at p (EFDM).

    Values tied in the source (ReLU features are zero over much of a picture) go to the mean of the target's
    values over the quantiles they span, so a photo's zeros take the painting's low values on average and the
    channel's mean is the painting's, as exact matching of sorted values would give.

    Attributes:
        source: ``(C, Q)`` sorted quantiles of the distribution moved from.
        target: ``(C, Q)`` sorted quantiles of the distribution moved to.
    """

    source: torch.Tensor
    target: torch.Tensor

    def __call__(self, features: torch.Tensor) -> torch.Tensor:
        """Apply to ``(N, C, H, W)`` features."""
        flat = _flat(features).contiguous()
        knots, values = self.source.float().contiguous(), self.target.float()
        last = knots.shape[1] - 1
        below = torch.searchsorted(knots, flat, right=False)
        above = torch.searchsorted(knots, flat, right=True)
        # Between two knots: along the curve.
        low, high = (below - 1).clamp(0, last), below.clamp(0, last)
        low_knot, high_knot = knots.gather(1, low), knots.gather(1, high)
        share = ((flat - low_knot) / (high_knot - low_knot).clamp_min(1e-12)).clamp(0, 1)
        along = values.gather(1, low) * (1 - share) + values.gather(1, high) * share
        # On knots that several quantiles share: the mean of the target over those quantiles.
        sums = functional.pad(values.cumsum(1), (1, 0))
        tied = (sums.gather(1, above) - sums.gather(1, below)) / (above - below).clamp_min(1)
        moved = torch.where(above - below > 1, tied, along)
        shape = (features.shape[1], features.shape[0], *features.shape[2:])
        return moved.reshape(shape).transpose(0, 1).to(features.dtype)


def _quantiles(flat: torch.Tensor, weights: torch.Tensor, count: int = QUANTILES) -> torch.Tensor:
    """``(C, count)`` values of each row of ``flat`` (``(C, P)``) at the quantiles ``(j + ½) / count`` of its
    distribution with position ``weights`` (``(1, P)``, summing to 1)."""
    values, order = flat.sort(dim=1)
    mass = weights.expand_as(flat).gather(1, order)
    middles = mass.cumsum(1) - mass / 2
    wanted = ((torch.arange(count, device=flat.device) + 0.5) / count).expand(len(flat), -1).contiguous()
    above = torch.searchsorted(middles.contiguous(), wanted).clamp(1, flat.shape[1] - 1)
    low, high = middles.gather(1, above - 1), middles.gather(1, above)
    share = ((wanted - low) / (high - low).clamp_min(1e-12)).clamp(0, 1)
    return values.gather(1, above - 1) * (1 - share) + values.gather(1, above) * share


def _linear(matrix: torch.Tensor, columns: torch.Tensor) -> torch.Tensor:
    """``matrix`` applied to ``columns`` (over their channel dimension): a product, or a per-channel scale."""
    return matrix * columns if matrix.shape[1] == 1 else matrix @ columns


def _flat(features: torch.Tensor, stride: int = 1) -> torch.Tensor:
    """``(N, C, H, W)`` → ``(C, N·H·W / stride)`` in float32, one column per ``stride``-th position (taken
    before the conversion, so only they are copied)."""
    return features.transpose(0, 1).reshape(features.shape[1], -1)[:, ::stride].float()


def _weights(mask: torch.Tensor | None, features: torch.Tensor) -> torch.Tensor:
    """Per position of ``features``, its share of the statistics (summing to 1), from a soft mask of any size."""
    count = features.shape[0] * features.shape[2] * features.shape[3]
    if mask is None:
        return torch.full((1, count), 1.0 / count, device=features.device)
    weights = functional.interpolate(mask.float(), size=features.shape[-2:], mode="area")
    weights = weights.expand(features.shape[0], 1, -1, -1).reshape(1, -1)
    return weights / weights.sum().clamp_min(1e-12)


def _symmetric_power(covariance: torch.Tensor, power: float) -> torch.Tensor:
    values, vectors = eigh(covariance)
    keep = values > values.max() * EIGEN_FLOOR
    values, vectors = values[keep], vectors[:, keep]
    return (vectors * values.pow(power)) @ vectors.T


def feature_statistics(features: torch.Tensor, method: str, mask: torch.Tensor | None = None) -> FeatureStatistics:
    """The statistics ``method`` transfers, of ``(N, C, H, W)`` features (all images pooled), over the soft
    ``mask`` (any size; None: everywhere).

    Example:
        >>> features = torch.rand(1, 4, 8, 8)
        >>> stats = feature_statistics(features, "adain")
        >>> torch.allclose(stats.mean.flatten().float(), features.mean(dim=(2, 3)).flatten())
        True
    """
    if method not in METHODS:
        raise InputError(f"unknown feature transform {method!r}; expected one of {', '.join(METHODS)}")
    positions = features.shape[0] * features.shape[2] * features.shape[3]
    stride = -(-positions // MAX_STATISTICS_POSITIONS)
    flat, weights = _flat(features, stride), _weights(mask, features)
    if stride > 1:
        weights = weights[:, ::stride] / weights[:, ::stride].sum().clamp_min(1e-12)
    mean = flat @ weights.T
    if method == "efdm":
        return FeatureStatistics(method, mean.double(), _quantiles(flat, weights))
    # Centred before the products, so float32 loses nothing that matters; the small results go on in float64.
    centred = (flat - mean) * weights.sqrt()
    if method == "adain":
        variance = centred.pow(2).sum(1, keepdim=True).double()
        return FeatureStatistics(method, mean.double(), (variance + EPSILON).sqrt())
    covariance = (centred @ centred.T).double()
    covariance += EPSILON * torch.eye(len(mean), dtype=covariance.dtype, device=covariance.device)
    return FeatureStatistics(method, mean.double(), covariance)


#: What moves features from one painting's statistics to another's.
FeatureMap = AffineMap | QuantileMap


def statistics_map(source: FeatureStatistics, target: FeatureStatistics) -> FeatureMap:
    """The map that gives features with ``source``'s statistics ``target``'s: AdaIN scales each channel,
    WCT whitens with the source's covariance and colours with the target's, EFDM moves each channel's values
    along the two distributions' quantiles.

    Example:
        >>> content, style = torch.rand(1, 4, 8, 8), 3 * torch.rand(1, 4, 6, 6) + 1
        >>> to_style = statistics_map(feature_statistics(content, "wct"), feature_statistics(style, "wct"))
        >>> torch.allclose(to_style(content).mean(dim=(2, 3)), style.mean(dim=(2, 3)), atol=1e-4)
        True
    """
    if source.method != target.method:
        raise ValueError("source and target statistics of different methods")
    if source.method == "efdm":
        return QuantileMap(source.spread, target.spread)
    if source.method == "adain":
        matrix = target.spread / source.spread
    else:
        matrix = target.covariance_power(0.5) @ source.covariance_power(-0.5)
    offset = target.mean - _linear(matrix, source.mean)
    return AffineMap(matrix, offset)


def transfer(
    features: torch.Tensor,
    maps: Sequence[FeatureMap],
    weights: Sequence[float],
    strength: float = 1.0,
    regions: Sequence[torch.Tensor] | None = None,
) -> torch.Tensor:
    """A photo's ``(N, C, H, W)`` features moved by the styles' ``maps``, mixed with their own by ``strength``.

    Without ``regions`` the styles' results are blended by ``weights`` (normalised to sum to 1); with one soft
    mask per style (any size, summing to at most 1 everywhere; where they leave the photo uncovered its features
    stay as they are), each style repaints its region at ``strength`` × its weight relative to the heaviest (its
    map should then be made from the photo's statistics there).

    Example:
        >>> content = torch.rand(1, 4, 8, 8)
        >>> stats = feature_statistics(content, "adain")
        >>> identity = statistics_map(stats, stats)
        >>> torch.allclose(transfer(content, [identity], [1.0], strength=0.5), content, atol=1e-5)
        True
    """
    if len(maps) != len(weights) or (regions is not None and len(regions) != len(maps)):
        raise ValueError("one weight (and one region, when regions are given) per map")
    if regions is None:
        total = sum(weights)
        moved = sum(weight / total * to_style(features) for to_style, weight in zip(maps, weights, strict=True))
        return moved if strength == 1 else features + strength * (moved - features)
    heaviest = max(weights)
    result = torch.zeros_like(features)
    covered = torch.zeros_like(features[:, :1])
    for to_style, weight, region in zip(maps, weights, regions, strict=True):
        share = functional.interpolate(region.float(), size=features.shape[-2:], mode="area").to(features.dtype)
        result += share * (features + strength * weight / heaviest * (to_style(features) - features))
        covered += share
    # Where the regions leave the photo uncovered (kept regions), its features stay as they are.
    return result + (1 - covered).clamp_min(0) * features
