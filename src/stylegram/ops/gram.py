"""Gram matrices of feature maps: the style statistics of Gatys et al."""

import torch


class _SymmetricGram(torch.autograd.Function):
    """``F Fᵀ · scale`` in float32 (also under autocast), with a one-product backward ``(g + gᵀ) F · scale``.

    Autograd's own backward of ``flat @ flat.T`` treats the two operands as different tensors: two products, a
    transpose copy and a sum, which costs a Gatys step on the CPU about 5 % more.
    """

    @staticmethod
    def forward(ctx, flat: torch.Tensor, scale: float) -> torch.Tensor:
        ctx.save_for_backward(flat)
        ctx.scale = scale
        with torch.autocast(flat.device.type, enabled=False):
            return torch.bmm(flat, flat.transpose(1, 2)) * scale

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        (flat,) = ctx.saved_tensors
        with torch.autocast(flat.device.type, enabled=False):
            return torch.bmm((grad + grad.transpose(1, 2)).to(flat.dtype), flat) * ctx.scale, None


def gram_matrix(features: torch.Tensor, normalize: bool = True) -> torch.Tensor:
    """Channel-by-channel inner products of a batch of feature maps.

    Normalised by ``C·H·W`` (as in Johnson's neural-style), the entries are averages over positions and
    channels, so the same picture at another size or layer width gives comparable values.

    Args:
        features: ``(N, C, H, W)`` activations.
        normalize: divide by ``C·H·W``.

    Returns:
        ``(N, C, C)`` Gram matrices, computed in float32 (or float64) whatever the input precision.

    Example:
        >>> gram_matrix(torch.ones(1, 2, 2, 2))
        tensor([[[0.5000, 0.5000],
                 [0.5000, 0.5000]]])
    """
    batch, channels, height, width = features.shape
    flat = features.reshape(batch, channels, height * width)
    flat = flat.to(torch.promote_types(flat.dtype, torch.float32))
    return _SymmetricGram.apply(flat, 1.0 / (channels * height * width) if normalize else 1.0)


def guided_gram(features: torch.Tensor, weight: torch.Tensor, normalize: bool = True) -> torch.Tensor:
    """Gram matrices with every position counted by its ``weight`` ("guided" Gram matrices, Gatys et al. 2017).

    A mask as ``weight`` gives the style statistics of a region only; fractional weights blend regions.

    Args:
        features: ``(N, C, H, W)`` activations.
        weight: ``(N or 1, 1, H, W)`` non-negative weights.
        normalize: divide by ``C · Σ weight`` (the weighted mean over positions, as :func:`gram_matrix`).

    Example:
        >>> features = torch.cat([torch.ones(1, 1, 2, 1), torch.zeros(1, 1, 2, 1)], dim=-1)
        >>> left = torch.tensor([[[[1.0, 0.0], [1.0, 0.0]]]])
        >>> guided_gram(features, left).item(), guided_gram(features, 1 - left).item()
        (1.0, 0.0)
    """
    gram = gram_matrix(features * weight.sqrt().to(features.dtype), normalize=False)
    if normalize:
        gram = gram / (float(weight.sum()) * features.shape[1] + 1e-8)
    return gram
