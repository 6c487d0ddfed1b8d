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

import functools
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


#: For an output row of parity 0 or 1, which of the three kernel rows fall on input rows i−1, i, i+1 once the
#: input is upsampled ×2 by repeating pixels (the same holds for columns).
_PHASE_TAPS = torch.tensor(
    [[[1.0, 0.0, 0.0], [0.0, 1.0, 1.0], [0.0, 0.0, 0.0]], [[0.0, 0.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 1.0]]]
)


def upsampled_conv2d(x: torch.Tensor, conv: nn.Conv2d) -> torch.Tensor:
    """``conv`` (3×3, reflection-padded) applied to ``x`` upsampled ×2 by nearest neighbour, computed without
    making the upsampled picture: one 3×3 convolution at ``x``'s size with four derived kernels (one per output
    pixel parity), then a pixel shuffle. Exact; a quarter of the pixels pass through the convolution.

    Reflection padding of the upsampled picture reads, at the border, the pixel itself: replicate padding at
    ``x``'s size.

    Example:
        >>> conv = nn.Conv2d(4, 2, 3)
        >>> x = torch.rand(1, 4, 5, 7)
        >>> direct = conv(functional.pad(functional.interpolate(x, scale_factor=2.0), (1, 1, 1, 1), mode="reflect"))
        >>> torch.allclose(upsampled_conv2d(x, conv), direct, atol=1e-5)
        True
    """
    taps = _PHASE_TAPS.to(conv.weight)
    # kernels[o, a, b, i] = taps[a] · weight[o, i] · taps[b]ᵀ, laid out for pixel_shuffle as channel o·4 + a·2 + b.
    kernels = torch.einsum("apr,oirc,bqc->oabipq", taps, conv.weight, taps).flatten(0, 2)
    bias = conv.bias.repeat_interleave(4) if conv.bias is not None else None
    padded = functional.pad(x, (1, 1, 1, 1), mode="replicate")
    return functional.pixel_shuffle(functional.conv2d(padded, kernels, bias), 2)


class UpsampleConv(nn.Module):
    """Nearest-neighbour ×2 upsampling, then a 3×3 :class:`ConvLayer` (no checkerboard artefacts), computed at
    the input's size by :func:`upsampled_conv2d`."""

    def __init__(self, in_channels: int, out_channels: int, last: bool = False):
        super().__init__()
        self.conv = ConvLayer(in_channels, out_channels, 3, last=last)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = upsampled_conv2d(x, self.conv[1])
        for layer in list(self.conv)[2:]:  # normalisation and ReLU, unless last
            x = layer(x)
        return x


def _rename_old_output_layer(net: TransformerNet, state: dict, prefix: str, *args: object) -> None:
    """Model files and checkpoints written before the light output stage became an :class:`UpsampleConv` held it
    as ``decoder.<n+1>.1`` (after a parameter-free upsampling at ``decoder.<n>``); the parameters are the same."""
    if not net.config["light"]:
        return
    ups = len(net.config["widths"]) - 1
    for name in ("weight", "bias"):
        old, new = f"{prefix}decoder.{ups + 1}.1.{name}", f"{prefix}decoder.{ups}.conv.1.{name}"
        if old in state and new not in state:
            state[new] = state.pop(old)


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
            out_of = [UpsampleConv(first, 3, last=True)]
        else:
            into = [ConvLayer(3, first, 9)]
            out_of = [ConvLayer(first, 3, 9, last=True)]
        pairs = list(itertools.pairwise(widths))
        self.encoder = nn.Sequential(*into, *(ConvLayer(a, b, 3, stride=2) for a, b in pairs))
        self.residuals = nn.Sequential(*(ResidualBlock(widths[-1]) for _ in range(residual_blocks)))
        self.decoder = nn.Sequential(*(UpsampleConv(b, a) for a, b in reversed(pairs)), *out_of)
        self.multiple = 2 ** (len(widths) - 1 + light)
        self.add_input = add_input
        self._register_load_state_dict_pre_hook(functools.partial(_rename_old_output_layer, self))

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
