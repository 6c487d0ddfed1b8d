"""The VGG19 encoder every loss and metric shares: RGB images in 0..1 in, named activations out."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import torch
from torch import nn

from stylegram.cpu import memory_format
from stylegram.features.vgg import LAYER_NAMES, VGG19, check_layers, preprocess
from stylegram.features.weights import VGGWeights, load_vgg19_weights


class VGGEncoder(nn.Module):
    """Preprocessing plus VGG19 truncated at the deepest of ``layers``, frozen, in eval mode.

    One call returns every requested activation, so content and style losses share a single forward pass.

    Args:
        layers: the layer names callers will ask for.
        weights: loaded VGG19 weights (they also decide the preprocessing).
        pooling: ``"max"`` or ``"avg"``.

    Example:
        >>> from stylegram.features.weights import load_vgg19_weights
        >>> encoder = VGGEncoder(["relu1_1", "relu2_1"], load_vgg19_weights())
        >>> sorted(encoder(torch.rand(1, 3, 32, 32)))
        ['relu1_1', 'relu2_1']
    """

    def __init__(self, layers: Iterable[str], weights: VGGWeights, pooling: str = "max") -> None:
        super().__init__()
        self.layers = tuple(dict.fromkeys(check_layers(layers)))
        deepest = max(self.layers, key=LAYER_NAMES.index)
        self.net = VGG19(last_layer=deepest, pooling=pooling)
        self.net.load_convolutions(weights.state)
        self.preprocessing = weights.preprocessing
        self.memory_format = torch.contiguous_format
        self.requires_grad_(False)
        self.eval()

    def to_layout(self, layout: str) -> VGGEncoder:
        """Run the convolutions in ``layout`` (``contiguous`` or ``channels_last``): the weights now, every input
        as it comes in; the activations come out in that layout."""
        self.memory_format = memory_format(layout)
        return self.to(memory_format=self.memory_format)

    @classmethod
    def load(
        cls,
        layers: Iterable[str],
        weights: str | Path | None = None,
        preprocessing: str | None = None,
        pooling: str = "max",
    ) -> VGGEncoder:
        """Build an encoder from the shipped weights, or from the user's file at ``weights``."""
        return cls(layers, load_vgg19_weights(weights, preprocessing), pooling)

    def forward(self, image: torch.Tensor, layers: Iterable[str] | None = None) -> dict[str, torch.Tensor]:
        """The activations of ``layers`` (None: all the encoder's layers); the pass stops at the deepest."""
        x = preprocess(image, self.preprocessing).contiguous(memory_format=self.memory_format)
        return self.net(x, self.layers if layers is None else layers)
