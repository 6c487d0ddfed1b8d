"""Gram matrices of feature maps: the style statistics of Gatys et al."""

import torch


class _SymmetricGram(torch.autograd.Function):
    """``Fᵀ F · scale`` of ``(N, P, C)`` positions × channels (or ``F Fᵀ`` of ``(N, C, P)``), returned in
    float32, with a one-product backward ``F (g + gᵀ) · scale``.

    Autograd's own backward of ``flat @ flat.T`` treats the two operands as different tensors: two products, a
    transpose copy and a sum. The scale is applied to the small ``C × C`` matrices, never to the feature-sized
    gradient, and that gradient comes back in the features' own layout, so the ReLU behind it need not mix
    layouts (in channels_last a mixed one cost five times the ReLU's own backward).
    """

    @staticmethod
    def forward(ctx, flat: torch.Tensor, scale: float, positions_first: bool) -> torch.Tensor:
        ctx.save_for_backward(flat)
        ctx.scale, ctx.positions_first = scale, positions_first
        with torch.autocast(flat.device.type, enabled=False):
            product = flat.mT @ flat if positions_first else flat @ flat.mT
            return product.to(torch.promote_types(product.dtype, torch.float32)) * scale

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None, None]:
        (flat,) = ctx.saved_tensors
        with torch.autocast(flat.device.type, enabled=False):
            symmetric = ((grad + grad.mT) * ctx.scale).to(flat.dtype)
            return (flat @ symmetric if ctx.positions_first else symmetric @ flat), None, None


def gram_matrix(features: torch.Tensor, normalize: bool = True) -> torch.Tensor:
    """Channel-by-channel inner products of a batch of feature maps.

    Normalised by ``C·H·W`` (as in Johnson's neural-style), the entries are averages over positions and
    channels, so the same picture at another size or layer width gives comparable values.

    The product is taken in the features' precision when that is bfloat16 (accumulated in float32, as a bf16
    matrix product is: twice as fast as promoting the features first, and its rounding, 0.4 % of an entry, is
    far below what a style loss tells apart) and in float32 otherwise (float16 would overflow); channels_last
    features are read as positions × channels without a copy.

    Args:
        features: ``(N, C, H, W)`` activations.
        normalize: divide by ``C·H·W``.

    Returns:
        ``(N, C, C)`` Gram matrices in float32 (float64 for float64 features).

    Example:
        >>> gram_matrix(torch.ones(1, 2, 2, 2))
        tensor([[[0.5000, 0.5000],
                 [0.5000, 0.5000]]])
    """
    batch, channels, height, width = features.shape
    if features.dtype not in (torch.bfloat16, torch.float64):
        features = features.float()
    scale = 1.0 / (channels * height * width) if normalize else 1.0
    if features.is_contiguous(memory_format=torch.channels_last) and not features.is_contiguous():
        return _SymmetricGram.apply(features.permute(0, 2, 3, 1).reshape(batch, height * width, channels), scale, True)
    return _SymmetricGram.apply(features.reshape(batch, channels, height * width), scale, False)


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
