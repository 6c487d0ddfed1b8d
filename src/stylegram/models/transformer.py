"""The image-transformation network of Johnson, Alahi & Fei-Fei (2016), "Perceptual losses for real-time style
transfer", with the changes the field has since agreed on:

* reflection padding instead of zeros (no dark frame at the borders),
* instance normalisation instead of batch normalisation (Ulyanov et al. 2016: much better stylisation),
* nearest-neighbour upsampling followed by a convolution instead of transposed convolutions (Odena et al. 2016:
  no checkerboard artefacts).

The paper's layout is a 9×9 convolution, two stride-2 convolutions down, five residual blocks, two ×2
upsampling convolutions and a 9×9 convolution to RGB, with 32, 64 and 128 channels. The input and output are
RGB in 0..1 (the output is not clamped; the engine clamps).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn
from torch.nn import functional


class InstanceNorm(nn.InstanceNorm2d):
    """Instance normalisation that can hold its statistics fixed.

    A picture too large for one pass goes through the network in tiles; normalising each tile by its own mean
    and variance would give every tile its own tone. :func:`freeze_statistics` measures the statistics once
    on the whole picture (made smaller) and every tile is then normalised by those.
    """

    def __init__(self, channels: int):
        super().__init__(channels, affine=True)
        self.frozen: tuple[torch.Tensor, torch.Tensor] | None = None
        self.recording = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.recording:
            variance, mean = torch.var_mean(x.float(), dim=(2, 3), keepdim=True, correction=0)
            self.frozen = (mean, variance)
        if self.frozen is None:
            return super().forward(x)
        mean, variance = self.frozen
        normalised = (x.float() - mean) * torch.rsqrt(variance + self.eps)
        return (normalised * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)).to(x.dtype)


class ConvLayer(nn.Sequential):
    """Reflection padding, a convolution, and (unless ``last``) instance normalisation and ReLU."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int, stride: int = 1, last: bool = False):
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(kernel // 2),
            nn.Conv2d(in_channels, out_channels, kernel, stride),
        ]
        if not last:
            layers += [InstanceNorm(out_channels), nn.ReLU()]
        super().__init__(*layers)


class ResidualBlock(nn.Module):
    """Two 3×3 convolutions with instance normalisation, added to the input."""

    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(
            ConvLayer(channels, channels, 3),
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3),
            InstanceNorm(channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class UpsampleConv(nn.Module):
    """Nearest-neighbour ×2 upsampling, then a :class:`ConvLayer`: no checkerboard artefacts."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv = ConvLayer(in_channels, out_channels, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(functional.interpolate(x, scale_factor=2, mode="nearest"))


class TransformerNet(nn.Module):
    """Photo in, stylized picture out, in one pass.

    Strided convolutions go down, residual blocks work at the lowest resolution, upsampling convolutions come
    back up. Two ways in and out of full resolution:

    * ``light=False``, the paper's: a 9×9 convolution at full resolution in and out.
    * ``light=True`` (stylegram's default): a pixel unshuffle in (each 2×2 block of pixels becomes 12 channels
      at half resolution) and a nearest-neighbour upsampling with a 3×3 convolution to RGB out. Wide
      convolutions at full size dominate the paper's cost on a CPU; see docs/fast.md for the measurements.

    Args:
        widths: channels at each resolution, from the entry resolution (full, or half when light) down; each
            further entry halves the resolution. The paper's: ``(32, 64, 128)``.
        residual_blocks: residual blocks at the lowest resolution.
        light: the pixel-unshuffle layout.
        add_input: learn a change to the photo rather than the picture itself.

    Example:
        >>> net = TransformerNet(widths=(8, 8, 8), residual_blocks=1)
        >>> net(torch.rand(1, 3, 36, 52)).shape  # any size; it comes back as it went in
        torch.Size([1, 3, 36, 52])
    """

    def __init__(
        self,
        widths: tuple[int, ...] = (24, 48),
        residual_blocks: int = 3,
        light: bool = True,
        add_input: bool = False,
    ):
        super().__init__()
        self.config = {
            "widths": list(widths),
            "residual_blocks": residual_blocks,
            "light": light,
            "add_input": add_input,
        }
        first = widths[0]
        if light:
            into = [nn.PixelUnshuffle(2), ConvLayer(12, first, 3)]
            out_of = [nn.Upsample(scale_factor=2, mode="nearest"), ConvLayer(first, 3, 3, last=True)]
        else:
            into = [ConvLayer(3, first, 9)]
            out_of = [ConvLayer(first, 3, 9, last=True)]
        pairs = list(itertools.pairwise(widths))
        self.encoder = nn.Sequential(*into, *(ConvLayer(a, b, 3, stride=2) for a, b in pairs))
        self.residuals = nn.Sequential(*(ResidualBlock(widths[-1]) for _ in range(residual_blocks)))
        self.decoder = nn.Sequential(*(UpsampleConv(b, a) for a, b in reversed(pairs)), *out_of)
        self.multiple = 2 ** (len(widths) - 1 + light)
        self.add_input = add_input

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        height, width = image.shape[-2:]
        # Pad to a multiple of the total downsampling so the way back up gives the input's size.
        padded = functional.pad(image, (0, -width % self.multiple, 0, -height % self.multiple), mode="reflect")
        return self.body(padded)[..., :height, :width]

    def body(self, image: torch.Tensor) -> torch.Tensor:
        """The network on a picture whose sides are multiples of ``self.multiple`` (what ONNX exports)."""
        change = self.decoder(self.residuals(self.encoder(image)))
        return image + change if self.add_input else change


@contextmanager
def frozen_statistics(net: TransformerNet, reference: torch.Tensor) -> Iterator[None]:
    """Within the block, every instance normalisation of ``net`` uses the statistics it had on ``reference``.

    Example:
        >>> net = TransformerNet(widths=(8, 8, 8), residual_blocks=1).eval()
        >>> picture = torch.rand(1, 3, 64, 64)
        >>> with torch.no_grad(), frozen_statistics(net, picture):
        ...     left = net(picture[..., :32])
        >>> left.shape
        torch.Size([1, 3, 64, 32])
    """
    norms = [module for module in net.modules() if isinstance(module, InstanceNorm)]
    for norm in norms:
        norm.recording = True
    try:
        with torch.no_grad():
            net(reference)
    finally:
        for norm in norms:
            norm.recording = False
    try:
        yield
    finally:
        for norm in norms:
            norm.frozen = None
