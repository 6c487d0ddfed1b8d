"""The Gatys objective, α·content + β·style + tv, with its gradient, for a picture passed whole or in tiles.

A picture too large for one pass through VGG19 is passed in overlapping tiles (``stylegram.ops.tiling``). The
style term stays a property of the *whole* picture: its Gram matrices are the feather-weighted sums of every
tile's contributions, so all tiles are pulled towards one set of statistics and agree with each other. Its
gradient is exact: a first pass without gradients adds up the Gram matrices ``G``; then each tile is passed
again with gradients and back-propagates ``⟨∂L/∂G, G_tile⟩``, whose gradient with respect to the tile is the
tile's share of ``∂L/∂pixels``. Content and total variation are sums over positions and need no such care.
"""

from __future__ import annotations

from contextlib import nullcontext
from typing import TYPE_CHECKING

import torch

from stylegram.features.encoder import VGGEncoder
from stylegram.ops.gram import gram_matrix
from stylegram.ops.losses import relative_squared_error, style_loss, total_variation_loss
from stylegram.ops.tiling import ALIGN, Tile, plan_tiles

if TYPE_CHECKING:
    from stylegram.engines.gatys import GatysOptions

#: Pixels shared by neighbouring tiles (at most a quarter of the tile); the outer quarter of the overlap on
#: each side carries no weight, which keeps features that saw the tile's zero padding out of the losses.
TILE_OVERLAP = 192


class StyleTransferObjective:
    """The loss of a picture against fixed content and style targets, and its gradient.

    Args:
        encoder: the VGG19 encoder every term reads its activations from.
        options: the engine's options (layers and their weights, α, β, tv weight).
        tile_size: pass pictures in tiles of at most this many pixels a side; None passes them whole.
        autocast_dtype: run the encoder under autocast to this dtype (None: float32).

    Example:
        >>> from stylegram.engines.gatys import GatysOptions
        >>> options = GatysOptions(content_layers={"relu2_1": 1.0}, style_layers={"relu1_1": 1.0})
        >>> objective = StyleTransferObjective(VGGEncoder.load(["relu1_1", "relu2_1"]), options)
        >>> photo, painting = torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32)
        >>> objective.set_targets(photo, [(painting, 1.0)])
        >>> image = photo.clone().requires_grad_(True)
        >>> terms = objective.evaluate(image)
        >>> terms["content"], image.grad.shape
        (0.0, torch.Size([1, 3, 32, 32]))
    """

    def __init__(
        self,
        encoder: VGGEncoder,
        options: GatysOptions,
        tile_size: int | None = None,
        autocast_dtype: torch.dtype | None = None,
    ) -> None:
        self.encoder = encoder
        self.options = options
        self.tile_size = tile_size
        self.autocast_dtype = autocast_dtype
        self.tiles: list[Tile] = []
        self.content_targets: list[dict[str, torch.Tensor]] = []
        self.content_energy: dict[str, torch.Tensor] = {}
        self.style_targets: dict[str, torch.Tensor] = {}

    def _encode(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        if self.autocast_dtype is None:
            context = nullcontext()
        else:
            context = torch.autocast(image.device.type, dtype=self.autocast_dtype)
        with context:
            return self.encoder(image)

    def _plan(self, image: torch.Tensor) -> list[Tile]:
        height, width = image.shape[-2:]
        tile = self.tile_size if self.tile_size is not None and max(height, width) > self.tile_size else None
        overlap = min(TILE_OVERLAP, ALIGN * ((tile or 0) // (4 * ALIGN)))
        return [Tile(t.top, t.left, t.weight.to(image.device)) for t in plan_tiles(height, width, tile, overlap)]

    @torch.no_grad()
    def _grams(self, image: torch.Tensor, tiles: list[Tile]) -> tuple[dict[str, torch.Tensor], dict[str, float]]:
        """Whole-picture Gram matrices of ``image`` at the style layers, summed over ``tiles``, and the
        normalisation (positions × channels) each was divided by."""
        sums: dict[str, torch.Tensor] = {}
        positions: dict[str, float] = {}
        for tile in tiles:
            features = self._encode(tile.crop(image))
            for name in self.options.style_layers:
                weight = _weight_like(tile, features[name])
                sums[name] = sums.get(name, 0) + _weighted_gram(features[name], weight)
                positions[name] = positions.get(name, 0) + float(weight.sum())
        norms = {name: positions[name] * sums[name].shape[-1] for name in sums}
        return {name: sums[name] / norms[name] for name in sums}, norms

    @torch.no_grad()
    def set_targets(self, content: torch.Tensor, styles: list[tuple[torch.Tensor, float]]) -> None:
        """Take the content activations of ``content`` and the weight-blended Gram matrices of ``styles``."""
        self.tiles = self._plan(content)
        self.content_targets = []
        self.content_energy = {}
        for tile in self.tiles:
            features = self._encode(tile.crop(content))
            targets = {name: features[name].float() for name in self.options.content_layers}
            self.content_targets.append(targets)
            for name, target in targets.items():
                energy = (target.pow(2) * _weight_like(tile, target)).sum()
                self.content_energy[name] = self.content_energy.get(name, 0) + energy
        total_weight = sum(weight for _, weight in styles)
        self.style_targets = {}
        for image, weight in styles:
            for name, gram in self._grams(image, self._plan(image))[0].items():
                self.style_targets[name] = self.style_targets.get(name, 0) + gram * (weight / total_weight)

    def evaluate(self, image: torch.Tensor) -> dict[str, float]:
        """The weighted loss terms of ``image`` and their ``total``; adds the gradient to ``image.grad``."""
        options = self.options
        if len(self.tiles) == 1:
            features = self._encode(image)
            content = self._content(features, 0)
            style = sum(
                weight * style_loss(features[name], self.style_targets[name])
                for name, weight in options.style_layers.items()
            )
            terms = {"content": options.content_weight * content, "style": options.style_weight * style}
        else:
            terms = self._evaluate_tiles(image)
        terms["tv"] = options.tv_weight * total_variation_loss(image)
        terms["total"] = terms["content"] + terms["style"] + terms["tv"]
        terms["total"].backward()
        return {name: float(value.detach()) for name, value in terms.items()}

    def _content(self, features: dict[str, torch.Tensor], tile_index: int) -> torch.Tensor:
        """This tile's part of the content term: weighted squared error over the whole picture's energy."""
        total = 0
        for name, layer_weight in self.options.content_layers.items():
            target = self.content_targets[tile_index][name]
            error = (features[name].float() - target).pow(2)
            if len(self.tiles) > 1:
                error = error * _weight_like(self.tiles[tile_index], target)
            total = total + layer_weight * error.sum() / (self.content_energy[name] + 1e-8)
        return total

    def _evaluate_tiles(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        """Style and content terms tile by tile; their gradients go to ``image.grad``, the terms are detached."""
        options = self.options
        grams, norms = self._grams(image.detach(), self.tiles)
        style = 0
        style_gradients = {}
        for name, layer_weight in options.style_layers.items():
            target = self.style_targets[name]
            energy = target.pow(2).sum() + 1e-8
            style = style + layer_weight * relative_squared_error(grams[name], target)
            scale = options.style_weight * layer_weight * 2 / energy
            # ∂L/∂G, divided by the normalisation the tile's Gram contribution below leaves out.
            style_gradients[name] = (grams[name] - target) * (scale / norms[name])
        if image.grad is None:
            image.grad = torch.zeros_like(image)
        content = 0
        for index, tile in enumerate(self.tiles):
            crop = tile.crop(image).detach().requires_grad_(True)
            features = self._encode(crop)
            tile_content = self._content(features, index)
            surrogate = options.content_weight * tile_content
            for name, gradient in style_gradients.items():
                contribution = _weighted_gram(features[name], _weight_like(tile, features[name]))
                surrogate = surrogate + (gradient * contribution).sum()
            surrogate.backward()
            tile.crop(image.grad).add_(crop.grad)
            content = content + tile_content.detach()
        return {"content": options.content_weight * content, "style": options.style_weight * style.detach()}


def _weight_like(tile: Tile, features: torch.Tensor) -> torch.Tensor:
    return tile.weight_at(*features.shape[-2:])


def _weighted_gram(features: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """``Σ_positions w · f fᵀ``, not normalised."""
    return gram_matrix(features * weight.sqrt().to(features.dtype), normalize=False)
