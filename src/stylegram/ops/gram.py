"""Gram matrices of feature maps: the style statistics of Gatys et al."""

import torch


def gram_matrix(features: torch.Tensor, normalize: bool = True) -> torch.Tensor:
    """Channel-by-channel inner products of a batch of feature maps.

    Normalised by ``C·H·W`` (as in Johnson's neural-style), the entries are averages over positions and
    channels, so the same picture at another size or layer width gives comparable values.

    Args:
        features: ``(N, C, H, W)`` activations.
        normalize: divide by ``C·H·W``.

    Returns:
        ``(N, C, C)`` Gram matrices, computed in float32 whatever the input precision.

    Example:
        >>> gram_matrix(torch.ones(1, 2, 2, 2))
        tensor([[[0.5000, 0.5000],
                 [0.5000, 0.5000]]])
    """
    batch, channels, height, width = features.shape
    flat = features.reshape(batch, channels, height * width).float()
    gram = flat @ flat.transpose(1, 2)
    return gram / (channels * height * width) if normalize else gram
