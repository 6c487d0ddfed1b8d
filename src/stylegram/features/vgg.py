"""VGG19 as a feature extractor with layers addressed by name (``relu4_2``), written without torchvision.

The network is built only up to the deepest layer a caller asks for, so a style transfer run that needs
``relu5_1`` at most never pays for ``conv5_2`` … ``pool5``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import torch
from torch import nn

from stylegram.errors import InputError

#: Convolutions per block of VGG19 (configuration "E" of Simonyan & Zisserman).
BLOCK_DEPTHS = (2, 2, 4, 4, 4)
#: Output channels per block.
BLOCK_CHANNELS = (64, 128, 256, 512, 512)


def _layer_names() -> tuple[str, ...]:
    names = []
    for block, depth in enumerate(BLOCK_DEPTHS, start=1):
        for index in range(1, depth + 1):
            names += [f"conv{block}_{index}", f"relu{block}_{index}"]
        names.append(f"pool{block}")
    return tuple(names)


#: Every addressable layer, in network order: ``conv1_1, relu1_1, conv1_2, relu1_2, pool1, conv2_1, …, pool5``.
LAYER_NAMES = _layer_names()
#: The sixteen convolutions, whose weights a weights file must provide.
CONV_NAMES = tuple(name for name in LAYER_NAMES if name.startswith("conv"))

#: Pixel mean of the ImageNet training set in BGR order, as the original Caffe VGG19 subtracts it.
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
#: The normalisation torchvision's retrained VGG19 expects on RGB values in 0..1.
TORCHVISION_MEAN_RGB = (0.485, 0.456, 0.406)
TORCHVISION_STD_RGB = (0.229, 0.224, 0.225)
PREPROCESSINGS = ("caffe", "torchvision")


def check_layers(layers: Iterable[str]) -> list[str]:
    """Return ``layers`` as a list, raising :class:`InputError` for a name VGG19 does not have.

    Example:
        >>> check_layers(["relu4_2"])
        ['relu4_2']
    """
    layers = list(layers)
    unknown = [name for name in layers if name not in LAYER_NAMES]
    if unknown:
        raise InputError(
            f"unknown VGG19 layer {unknown[0]!r}; layers are named like relu4_2 (conv1_1 … relu5_4, pool1 … pool5)"
        )
    return layers


def convolution_macs(width: int, height: int, last_layer: str = "relu5_1") -> int:
    """Multiply-accumulates of VGG19's convolutions up to ``last_layer`` on one ``width × height`` picture.

    A Gatys step costs about four times this in floating-point operations: the forward pass, and the backward
    pass to the picture (the same products again; the weights take no gradient).

    Example:
        >>> round(convolution_macs(512, 384) / 1e9, 1)
        71.0
    """
    check_layers([last_layer])
    macs, in_channels = 0, 3
    for name in LAYER_NAMES[: LAYER_NAMES.index(last_layer) + 1]:
        if name.startswith("conv"):
            block = int(name[4])
            channels = BLOCK_CHANNELS[block - 1]
            scale = 2 ** (block - 1)  # each earlier pooling halved both sides (rounding down)
            macs += (height // scale) * (width // scale) * in_channels * channels * 9
            in_channels = channels
    return macs


def preprocess(image: torch.Tensor, preprocessing: str = "caffe") -> torch.Tensor:
    """Turn RGB images with values in 0..1 into the input the VGG19 weights were trained on.

    ``caffe`` (the shipped weights): channels reversed to BGR, scaled to 0..255, the Caffe mean subtracted.
    ``torchvision``: RGB normalised by the ImageNet mean and standard deviation.

    Args:
        image: ``(N, 3, H, W)`` RGB tensor in 0..1.
        preprocessing: ``"caffe"`` or ``"torchvision"``.

    Example:
        >>> preprocess(torch.ones(1, 3, 1, 1)).flatten().tolist()
        [151.06100463867188, 138.22100830078125, 131.32000732421875]
    """
    if preprocessing == "caffe":
        mean = image.new_tensor(CAFFE_MEAN_BGR).view(1, 3, 1, 1)
        return image.flip(1) * 255.0 - mean
    if preprocessing == "torchvision":
        mean = image.new_tensor(TORCHVISION_MEAN_RGB).view(1, 3, 1, 1)
        std = image.new_tensor(TORCHVISION_STD_RGB).view(1, 3, 1, 1)
        return (image - mean) / std
    raise InputError(f"unknown preprocessing {preprocessing!r}; expected one of {', '.join(PREPROCESSINGS)}")


def _build_layers(pooling: str) -> Iterator[tuple[str, nn.Module]]:
    """Yield VGG19's layers in order, each built only when the consumer gets that far."""
    in_channels = 3
    for block, (depth, channels) in enumerate(zip(BLOCK_DEPTHS, BLOCK_CHANNELS, strict=True), start=1):
        for index in range(1, depth + 1):
            yield f"conv{block}_{index}", nn.Conv2d(in_channels, channels, kernel_size=3, padding=1)
            yield f"relu{block}_{index}", nn.ReLU()
            in_channels = channels
        yield f"pool{block}", nn.MaxPool2d(2, 2) if pooling == "max" else nn.AvgPool2d(2, 2)


class VGG19(nn.Module):
    """VGG19's convolutional part, truncated after ``last_layer``, returning named activations.

    Args:
        last_layer: the deepest layer that will be asked for; later layers are not built.
        pooling: ``"max"`` (the original) or ``"avg"`` (Gatys et al. found it gives smoother results).

    Example:
        >>> net = VGG19(last_layer="relu2_1")
        >>> features = net(torch.zeros(1, 3, 32, 32), ["relu1_1", "relu2_1"])
        >>> {name: tuple(value.shape) for name, value in features.items()}
        {'relu1_1': (1, 64, 32, 32), 'relu2_1': (1, 128, 16, 16)}
    """

    def __init__(self, last_layer: str = "relu5_1", pooling: str = "max") -> None:
        super().__init__()
        check_layers([last_layer])
        if pooling not in ("max", "avg"):
            raise InputError(f"unknown pooling {pooling!r}; expected max or avg")
        self.pooling = pooling
        self.layers = nn.ModuleDict()
        for name, layer in _build_layers(pooling):
            self.layers[name] = layer
            if name == last_layer:
                break

    @property
    def last_layer(self) -> str:
        return next(reversed(self.layers.keys()))

    def forward(self, x: torch.Tensor, layers: Iterable[str]) -> dict[str, torch.Tensor]:
        """Run ``x`` (already preprocessed) and return the activations of ``layers`` by name."""
        wanted = set(check_layers(layers))
        missing = wanted - set(self.layers.keys())
        if missing:
            raise InputError(f"layer {sorted(missing)[0]} is deeper than this network's last layer {self.last_layer}")
        features = {}
        for name, layer in self.layers.items():
            x = layer(x)
            if name in wanted:
                features[name] = x
                if len(features) == len(wanted):
                    break
        return features

    def load_convolutions(self, state: dict[str, torch.Tensor]) -> None:
        """Copy ``conv*_*.weight`` / ``.bias`` tensors from ``state`` into the layers this network has."""
        with torch.no_grad():
            for name, layer in self.layers.items():
                if isinstance(layer, nn.Conv2d):
                    layer.weight.copy_(state[f"{name}.weight"])
                    layer.bias.copy_(state[f"{name}.bias"])
