"""Photorealistic smoothing: a stylized picture re-expressed as locally affine functions of the photo's colours.

A one-pass transfer moves a photo's colours and tones, but its decoder also invents texture and softens edges.
In a small window of a real photo, the colours of any re-lit or re-graded version are very nearly an affine
function of the original's (the assumption behind Levin et al.'s matting Laplacian, which Luan et al. 2017 and
Li et al. 2018 use to keep results photographic). Fitting that function per window to the stylized picture by
least squares — the colour guided filter of He et al. (2013) — keeps the transfer's colours and drops
everything the photo cannot explain: the new texture, the halos, the blur. Because the fitted coefficients are
smooth, they can be fitted at the working size and applied to the photo at full resolution and bit depth.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.nn import functional


@dataclass
class LocalAffine:
    """Per pixel, ``output = scale @ photo + offset``: ``scale`` is ``(1, C, 3, H, W)`` (output channel ×
    photo channel), ``offset`` ``(1, C, H, W)``."""

    scale: torch.Tensor
    offset: torch.Tensor

    def resized(self, height: int, width: int) -> LocalAffine:
        """The same coefficients on a ``height`` × ``width`` grid (bilinear: they vary slowly)."""
        if self.offset.shape[-2:] == (height, width):
            return self
        flat = self.scale.flatten(1, 2)
        scale = functional.interpolate(flat, size=(height, width), mode="bilinear", align_corners=False)
        offset = functional.interpolate(self.offset, size=(height, width), mode="bilinear", align_corners=False)
        return LocalAffine(scale.unflatten(1, self.scale.shape[1:3]), offset)

    def apply(self, photo: torch.Tensor) -> torch.Tensor:
        """The affine maps applied to ``photo`` (``(1, 3, H, W)``; coefficients resized to it)."""
        fitted = self.resized(*photo.shape[-2:])
        return torch.einsum("bijhw,bjhw->bihw", fitted.scale, photo) + fitted.offset


def _window_sums(tensor: torch.Tensor, radius: int, dim: int) -> torch.Tensor:
    """Sums over ``radius`` either side along ``dim`` (cut at the borders), from a running sum: the same time for
    any radius."""
    length = tensor.shape[dim]
    running = functional.pad(tensor.cumsum(dim), (0, 0, 1, 0) if dim == -2 else (1, 0))
    positions = torch.arange(length, device=tensor.device)
    end = (positions + radius + 1).clamp(max=length)
    start = (positions - radius).clamp(min=0)
    return running.index_select(dim, end) - running.index_select(dim, start)


def _box(tensor: torch.Tensor, radius: int) -> torch.Tensor:
    """Mean over the ``(2·radius + 1)²`` window around each pixel (windows cut at the borders)."""
    ones = torch.ones((1, 1, *tensor.shape[-2:]), dtype=tensor.dtype, device=tensor.device)
    count = _window_sums(_window_sums(ones, radius, -2), radius, -1)
    return _window_sums(_window_sums(tensor, radius, -2), radius, -1) / count


def fit_local_affine(photo: torch.Tensor, target: torch.Tensor, radius: int = 8, eps: float = 1e-3) -> LocalAffine:
    """The locally affine maps from ``photo``'s colours (``(1, 3, H, W)`` in 0..1) to ``target``'s (``(1, C, H,
    W)``: a picture, or any maps to be filtered with the photo as guide, as He et al.'s guided filter does),
    fitted by ridge regression in every window of ``radius`` and averaged over the windows covering each pixel.

    ``eps`` is the ridge term: larger, flatter maps (smoother output); smaller, closer to ``target``.

    Example:
        >>> photo = torch.rand(1, 3, 24, 32)
        >>> graded = 0.5 * photo + 0.2  # a global grade is affine: the fit recovers it
        >>> smoothed = fit_local_affine(photo, graded, radius=2, eps=1e-6).apply(photo)
        >>> bool((smoothed - graded).abs().max() < 1e-3)
        True
    """
    if photo.shape[-2:] != target.shape[-2:]:
        raise ValueError(f"photo {tuple(photo.shape)} and target {tuple(target.shape)} differ in size")
    photo, target = photo.double(), target.double()
    mean_photo = _box(photo, radius)
    mean_target = _box(target, radius)
    # Covariances of the photo's channels (3×3) and of target with photo (C×3) per window.
    products = photo.unsqueeze(2) * photo.unsqueeze(1)  # (1, 3, 3, H, W)
    covariance = _box(products.flatten(1, 2), radius).unflatten(1, (3, 3))
    covariance = covariance - mean_photo.unsqueeze(2) * mean_photo.unsqueeze(1)
    channels = target.shape[1]
    cross = _box((target.unsqueeze(2) * photo.unsqueeze(1)).flatten(1, 2), radius).unflatten(1, (channels, 3))
    cross = cross - mean_target.unsqueeze(2) * mean_photo.unsqueeze(1)
    ridge = eps * torch.eye(3, dtype=photo.dtype).view(1, 3, 3, 1, 1)
    # scale · (Σ + εI) = cross, solved for every window at once.
    systems = (covariance + ridge).permute(0, 3, 4, 1, 2)
    scale = torch.linalg.solve(systems, cross.permute(0, 3, 4, 2, 1)).permute(0, 4, 3, 1, 2)
    offset = mean_target - torch.einsum("bijhw,bjhw->bihw", scale, mean_photo)
    scale = _box(scale.flatten(1, 2), radius).unflatten(1, (channels, 3))
    return LocalAffine(scale.float(), _box(offset, radius).float())


def smooth(photo: torch.Tensor, target: torch.Tensor, radius: int = 8, eps: float = 1e-3) -> torch.Tensor:
    """``target`` made photographic: the locally affine function of ``photo`` closest to it.

    Example:
        >>> photo = torch.rand(1, 3, 16, 16)
        >>> smooth(photo, torch.rand(1, 3, 16, 16), radius=2).shape
        torch.Size([1, 3, 16, 16])
    """
    return fit_local_affine(photo, target, radius, eps).apply(photo)
