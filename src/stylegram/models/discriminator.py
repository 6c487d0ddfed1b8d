"""A small PatchGAN discriminator (Isola et al. 2017): says, for every patch of a picture, whether it looks
like a patch of the painting. Used by the optional adversarial term of style-network training."""

from __future__ import annotations

import torch
from torch import nn


class PatchDiscriminator(nn.Module):
    """Three stride-2 4×4 convolutions and a 3×3 one to a map of patch scores (each sees ~46 px).

    Example:
        >>> PatchDiscriminator(width=8)(torch.rand(2, 3, 64, 64)).shape
        torch.Size([2, 1, 8, 8])
    """

    def __init__(self, width: int = 32):
        super().__init__()
        layers: list[nn.Module] = []
        channels = 3
        for index, out in enumerate((width, 2 * width, 4 * width)):
            layers.append(nn.Conv2d(channels, out, 4, stride=2, padding=1))
            if index:
                layers.append(nn.InstanceNorm2d(out, affine=True))
            layers.append(nn.LeakyReLU(0.2))
            channels = out
        layers.append(nn.Conv2d(channels, 1, 3, padding=1))
        self.layers = nn.Sequential(*layers)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.layers(image)
