"""Loss terms of neural style transfer, as plain functions of tensors.

:class:`~stylegram.features.encoder.VGGEncoder` computes every activation once per image; these functions only
compare activations or Gram matrices with their targets.

Content and style terms are *relative* squared errors: the squared error divided by the target's own energy.
Raw VGG19 activations differ by orders of magnitude between layers (relu4_1's Gram term outweighs relu1_1's
ten-thousandfold on a typical photo), so raw errors let one layer decide the picture and make a weight that
suits one image size or layer set wrong for the next. Relative errors make every layer start near 1 and keep
α and β meaningful across images, sizes and layers.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from stylegram.ops.gram import gram_matrix

_EPS = 1e-8


def relative_squared_error(value: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``‖value − target‖² / ‖target‖²`` in float32, summed over everything but normalised per batch.

    Example:
        >>> relative_squared_error(torch.tensor([1.0, 1.0]), torch.tensor([2.0, 0.0]))
        tensor(0.5000)
    """
    target = target.float()
    return (value.float() - target).pow(2).sum() / (target.pow(2).sum() + _EPS)


def content_term(
    features: dict[str, torch.Tensor], targets: dict[str, torch.Tensor], layers: dict[str, float]
) -> torch.Tensor:
    """The content term: the relative error of the picture's activations at each of ``layers`` against the
    photo's, weighted by the layer's weight.

    Example:
        >>> picture, photo = {"relu4_2": torch.zeros(1, 1, 2, 2)}, {"relu4_2": torch.full((1, 1, 2, 2), 2.0)}
        >>> content_term(picture, photo, {"relu4_2": 0.5})
        tensor(0.5000)
    """
    return sum(weight * relative_squared_error(features[name], targets[name]) for name, weight in layers.items())


def style_term(
    features: dict[str, torch.Tensor], target_grams: dict[str, torch.Tensor], layers: dict[str, float]
) -> torch.Tensor:
    """The style term: the relative error of the Gram matrices of the picture's activations at each of ``layers``
    against the painting's (one target for a whole batch of pictures), weighted by the layer's weight.

    Example:
        >>> style_term({"relu1_1": torch.ones(1, 2, 2, 2)}, {"relu1_1": torch.full((1, 2, 2), 0.25)}, {"relu1_1": 1.0})
        tensor(1.)
    """
    return sum(
        weight
        * relative_squared_error(gram_matrix(features[name]), target_grams[name].expand(len(features[name]), -1, -1))
        for name, weight in layers.items()
    )


@dataclass(frozen=True)
class LossWeights:
    """How the terms of the perceptual loss add up: α, β and the total-variation and temporal weights, and the
    layers the content and style terms read, each with its weight.

    Attributes:
        content_layers / style_layers: layer names and weights (``stylegram.features.layers`` has the defaults).
        content / style / tv / temporal: α, β, and the weights of :func:`total_variation_loss` and
            :func:`temporal_loss`.
        style_statistics: what the style term compares at each layer, one of :data:`STYLE_LOSSES`.
    """

    content_layers: dict[str, float]
    style_layers: dict[str, float]
    content: float = 1.0
    style: float = 1.0
    tv: float = 0.0
    temporal: float = 0.0
    style_statistics: str = "gram"


def loss_weights_of(options: object, **more: object) -> LossWeights:
    """The :class:`LossWeights` of an options object that names them as the engines' and trainings' options do
    (``content_layers``, ``style_layers``, ``content_weight``, ``style_weight``, ``tv_weight``), with ``more``."""
    return LossWeights(
        content_layers=options.content_layers,
        style_layers=options.style_layers,
        content=options.content_weight,
        style=options.style_weight,
        tv=options.tv_weight,
        **more,
    )


def perceptual_terms(
    picture: torch.Tensor,
    features: dict[str, torch.Tensor],
    content_targets: dict[str, torch.Tensor],
    style_grams: dict[str, torch.Tensor],
    weights: LossWeights,
) -> dict[str, torch.Tensor]:
    """The weighted content, style and total-variation terms of ``picture`` (whose activations are
    ``features``), as the feed-forward networks are trained on them."""
    return {
        "content": weights.content * content_term(features, content_targets, weights.content_layers),
        "style": weights.style * style_term(features, style_grams, weights.style_layers),
        "tv": weights.tv * total_variation_loss(picture),
    }


#: How a style term compares the picture's features with the painting's at each layer: their Gram matrices
#: (Gatys et al.), or their means and covariances separately (the first two moments, as a Wasserstein-2 style
#: loss does; a Gram matrix mixes the two, and ReLU features' large means dominate it).
STYLE_LOSSES = ("gram", "mean_cov")


@dataclass
class Moments:
    """The style statistics of one layer's features over some positions: the Gram matrix (divided by channels
    × weighted positions) and, where the loss uses them, the features' means (divided by weighted positions)."""

    gram: torch.Tensor
    mean: torch.Tensor | None = None


def moments_error(statistics: Moments, target: Moments) -> torch.Tensor:
    """The style error of one layer from its :class:`Moments` and the target's:
    the relative Gram error, or (where both have means) the relative error of the means plus that of the
    covariances ``C·G − μμᵀ``.

    Example:
        >>> same = Moments(torch.eye(2)[None] / 2, torch.ones(1, 2))
        >>> float(moments_error(same, same)), float(moments_error(Moments(same.gram), Moments(2 * same.gram)))
        (0.0, 0.25)
    """
    if statistics.mean is None or target.mean is None:
        return relative_squared_error(statistics.gram, target.gram)
    return relative_squared_error(statistics.mean, target.mean) + relative_squared_error(
        _covariance(statistics), _covariance(target)
    )


def _covariance(moments: Moments) -> torch.Tensor:
    mean = moments.mean.float()
    return moments.gram.shape[-1] * moments.gram - mean[..., :, None] * mean[..., None, :]


def total_variation_loss(image: torch.Tensor) -> torch.Tensor:
    """Mean squared difference between neighbouring pixels, across and down, in 0..255 units.

    Example:
        >>> total_variation_loss(torch.tensor([[[[0.0, 1 / 255], [0.0, 1 / 255]]]]))
        tensor(1.)
    """
    pixels = image.float() * 255.0
    across = (pixels[..., :, 1:] - pixels[..., :, :-1]).pow(2).mean()
    down = (pixels[..., 1:, :] - pixels[..., :-1, :]).pow(2).mean()
    return across + down


def temporal_loss(image: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean squared difference to ``target`` (the previous video frame's result, warped to this frame) over the
    pixels ``mask`` trusts (``(1, 1, H, W)`` in 0..1), in 0..255 units: Ruder et al. (2016)'s short-term
    temporal loss.

    Example:
        >>> image, target = torch.zeros(1, 3, 2, 2), torch.full((1, 3, 2, 2), 1 / 255)
        >>> temporal_loss(image, target, torch.tensor([[[[1.0, 1.0], [0.0, 0.0]]]]))
        tensor(1.)
    """
    squared = ((image.float() - target) * 255.0).pow(2) * mask
    return squared.sum() / (mask.sum() * image.shape[1] + 1e-8)
