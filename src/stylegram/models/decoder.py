"""Decoders that turn VGG19 activations back into pictures, for the arbitrary-style engines (AdaIN, WCT).

A decoder for layer ``reluK_1`` mirrors VGG19's first K blocks: convolutions at the layer's resolution, then
×2 nearest-neighbour upsampling and convolutions, block by block, up to the picture's resolution, with
reflection padding and ReLU everywhere but the last convolution (no normalisation: the statistics of the
features *are* the style). Huang & Belongie's decoder repeats VGG19's layers exactly; the shipped ones keep its
blocks and resolutions but fewer convolutions and channels near the picture, where a convolution costs most:
at 1024×768 the relu4_1 decoder takes 0.57 s instead of 1.5 s on a 2-core CPU (docs/arbitrary.md).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional

from stylegram.errors import InputError
from stylegram.features.vgg import BLOCK_CHANNELS
from stylegram.models.transformer import upsampled_conv2d

#: The layers a decoder can start from: the first ReLU of each VGG19 block.
DECODER_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")

#: The shipped layouts: for each block from the layer's down to the first, the output channels of its
#: convolutions (the last one is RGB).
LIGHT_STAGES: dict[str, tuple[tuple[int, ...], ...]] = {
    "relu1_1": ((32, 3),),
    "relu2_1": ((64,), (32, 3)),
    "relu3_1": ((128,), (64,), (32, 3)),
    "relu4_1": ((256,), (256, 128), (64,), (32, 3)),
    "relu5_1": ((512,), (256,), (256, 128), (64,), (32, 3)),
}


#: About the standard deviation of each layer's activations on photos (Caffe-preprocessed VGG19): the decoder
#: divides its input by it, so it starts from unit-scale inputs rather than values in the hundreds.
INPUT_SCALES = {"relu1_1": 50.0, "relu2_1": 150.0, "relu3_1": 200.0, "relu4_1": 600.0, "relu5_1": 100.0}


def check_decoder_layer(layer: str) -> str:
    if layer not in DECODER_LAYERS:
        raise InputError(f"decoders start from {', '.join(DECODER_LAYERS)}; got {layer!r}")
    return layer


class Decoder(nn.Module):
    """VGG19 activations at ``layer`` → an RGB picture in about 0..1 (not clamped).

    Args:
        layer: ``relu1_1`` … ``relu5_1``; the input has that layer's channels and 1/2^(K−1) of the picture's size.
        stages: per block, deepest first, the output channels of its convolutions; None: ``LIGHT_STAGES``.

    Example:
        >>> decoder = Decoder("relu2_1", stages=((8,), (4, 3)))
        >>> decoder(torch.rand(1, 128, 16, 16)).shape
        torch.Size([1, 3, 32, 32])
    """

    def __init__(self, layer: str, stages: Sequence[Sequence[int]] | None = None) -> None:
        super().__init__()
        self.layer = check_decoder_layer(layer)
        stages = LIGHT_STAGES[layer] if stages is None else stages
        block = int(layer[4])
        if len(stages) != block or not all(stages) or stages[-1][-1] != 3:
            raise InputError(f"a {layer} decoder needs {block} stages of convolutions ending in 3 channels")
        self.stages = tuple(tuple(int(width) for width in stage) for stage in stages)
        layers: list[nn.Module] = []
        channels = BLOCK_CHANNELS[block - 1]
        for index, stage in enumerate(self.stages):
            if index:
                layers.append(nn.Upsample(scale_factor=2, mode="nearest"))
            for width in stage:
                layers += [nn.ReflectionPad2d(1), nn.Conv2d(channels, width, 3), nn.ReLU()]
                channels = width
        self.body = nn.Sequential(*layers[:-1])  # no ReLU after the RGB convolution

    @property
    def config(self) -> dict:
        return {"layer": self.layer, "stages": [list(stage) for stage in self.stages]}

    @property
    def scale(self) -> int:
        """How many times larger the picture is than the features."""
        return 2 ** (len(self.stages) - 1)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        # Each upsampling and the padded convolution after it run as one convolution at the lower resolution
        # (exact): a quarter of the pixels, and the upsampled tensor is never made.
        x = features / INPUT_SCALES[self.layer]
        layers = list(self.body)
        index = 0
        while index < len(layers):
            if isinstance(layers[index], nn.Upsample):
                x = upsampled_conv2d(x, layers[index + 2])
                index += 3
            else:
                x = layers[index](x)
                index += 1
        return x

    @property
    def tail_layer(self) -> str:
        """The next shallower layer, whose decoder can serve as this one's lower blocks (:meth:`attach_tail`)."""
        if self.layer == DECODER_LAYERS[0]:
            raise InputError("a relu1_1 decoder has no shallower decoder below it")
        return DECODER_LAYERS[DECODER_LAYERS.index(self.layer) - 1]

    def attach_tail(self, tail: Decoder) -> nn.Sequential:
        """Copy the decoder ``tail`` of :attr:`tail_layer` into this decoder's lower blocks and return the rest,
        the *head*: this layer's features (divided by its input scale) → the tail layer's (divided by its).

        This decoder's second block must start with a convolution to the tail layer's channels and go on with
        the tail's layout, as the shipped relu4_1 decoder does on relu3_1's: then a head trained to predict
        relu3_1 features from relu4_1 ones, in front of a decoder that already inverts relu3_1 well, is a whole
        relu4_1 decoder (stage-wise training, ``DecoderTrainOptions.tail``).

        Example:
            >>> tail = Decoder("relu1_1", stages=((4, 3),))
            >>> decoder = Decoder("relu2_1", stages=((8,), (64, 4, 3)))
            >>> head = decoder.attach_tail(tail)
            >>> head(torch.rand(1, 128, 4, 4)).shape
            torch.Size([1, 64, 8, 8])
        """
        if tail.layer != self.tail_layer:
            raise InputError(f"a {self.layer} decoder builds on a {self.tail_layer} decoder, not a {tail.layer} one")
        tail_channels = BLOCK_CHANNELS[int(self.layer[4]) - 2]
        if self.stages[1][0] != tail_channels:
            raise InputError(
                f"the {self.layer} layout {self.config['stages']} does not end in a {self.tail_layer} decoder: its "
                f"second block must start with {tail_channels} channels"
            )
        expected = (self.stages[1][1:], *self.stages[2:])
        if tail.stages != expected:
            raise InputError(f"the {tail.layer} decoder's layout {tail.config['stages']} is not {list(expected)}")
        head_length = len(self.body) - len(tail.body)
        for mine, theirs in zip(self.body[head_length:], tail.body, strict=True):
            mine.load_state_dict(theirs.state_dict())
        return self.body[:head_length]


def pad_to_multiple(image: torch.Tensor, multiple: int) -> torch.Tensor:
    """``image`` padded by reflection at the bottom and right to a multiple of ``multiple`` px: VGG's pooling
    floors odd sizes, so the decoder would return a smaller picture. Crop its result back to the input's size.

    Example:
        >>> pad_to_multiple(torch.rand(1, 3, 30, 33), 8).shape
        torch.Size([1, 3, 32, 40])
    """
    height, width = image.shape[-2:]
    pad_bottom, pad_right = -height % multiple, -width % multiple
    if not pad_bottom and not pad_right:
        return image
    mode = "reflect" if pad_bottom < height and pad_right < width else "replicate"
    return functional.pad(image, (0, pad_right, 0, pad_bottom), mode=mode)
