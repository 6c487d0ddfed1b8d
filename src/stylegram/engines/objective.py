"""The Gatys objective, α·content + β·style + tv, with its gradient, for a picture passed whole or in tiles.

The style term compares statistics of the picture's features with the painting's at each style layer
(``LossWeights.style_statistics``): Gram matrices ``G``, or means ``μ`` and covariances ``C·G − μμᵀ``
(``stylegram.ops.losses.Moments``). Both are sums over positions, which is what makes tiles exact.

A picture too large for one pass through VGG19 is passed in overlapping tiles (``stylegram.ops.tiling``). The
style term stays a property of the *whole* picture: its statistics are the feather-weighted sums of every
tile's contributions, so all tiles are pulled towards one set of statistics and agree with each other. Its
gradient is exact: a first pass without gradients adds up the statistics ``S``; ``∂L/∂S`` is taken on those
small matrices; then each tile is passed again with gradients and back-propagates ``⟨∂L/∂S, S_tile⟩``, whose
gradient with respect to the tile is the tile's share of ``∂L/∂pixels``. Content and total variation are sums
over positions and need no such care.

Styles with regions (``StyleTarget.region``) each pull their own part of the picture: the Gram matrices are
*guided* (Gatys et al. 2017, "Controlling perceptual factors"), every position weighted by its share of the
region, on the style image's side by ``source_region``. A tile is just another weighting of positions, so
regions and tiles multiply and one code path serves both.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass

import torch

from stylegram.features.encoder import VGGEncoder
from stylegram.ops.gram import gram_matrix, guided_gram
from stylegram.ops.losses import LossWeights, Moments, content_term, moments_error, temporal_loss, total_variation_loss
from stylegram.ops.tiling import ALIGN, Tile, average_down, plan_tiles

#: Pixels shared by neighbouring tiles (at most a quarter of the tile); the outer quarter of the overlap on
#: each side carries no weight, which keeps features that saw the tile's zero padding out of the losses.
TILE_OVERLAP = 192


@dataclass
class StyleTarget:
    """One style the picture is pulled towards, and where.

    Attributes:
        image: the style image, ``(1, 3, h, w)``.
        weight: its share of the blend (no regions), or how strongly it paints its region (regions).
        region: ``(1, 1, H, W)`` share of each picture pixel this style paints, at the picture's size; None:
            all of it, blended with the other styles by weight.
        source_region: ``(1, 1, h, w)`` part of the style image its statistics come from; None: all of it.
    """

    image: torch.Tensor
    weight: float = 1.0
    region: torch.Tensor | None = None
    source_region: torch.Tensor | None = None


@dataclass
class _StyleGroup:
    """Targets that one part of the picture (``region``, None: all of it) is pulled towards, per layer."""

    targets: dict[str, Moments]
    region: torch.Tensor | None
    weight: float


class StyleTransferObjective:
    """The loss of a picture against fixed content and style targets, and its gradient.

    Args:
        encoder: the VGG19 encoder every term reads its activations from.
        weights: the terms' weights and the layers they read (:class:`~stylegram.ops.losses.LossWeights`).
        tile_size: pass pictures in tiles of at most this many pixels a side; None passes them whole.
        autocast_dtype: run the encoder under autocast to this dtype (None: float32).

    Example:
        >>> weights = LossWeights(content_layers={"relu2_1": 1.0}, style_layers={"relu1_1": 1.0})
        >>> objective = StyleTransferObjective(VGGEncoder.load(["relu1_1", "relu2_1"]), weights)
        >>> photo, painting = torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32)
        >>> objective.set_targets(photo, [StyleTarget(painting)])
        >>> image = photo.clone().requires_grad_(True)
        >>> terms = objective.evaluate(image)
        >>> terms["content"], image.grad.shape
        (0.0, torch.Size([1, 3, 32, 32]))
    """

    def __init__(
        self,
        encoder: VGGEncoder,
        weights: LossWeights,
        tile_size: int | None = None,
        autocast_dtype: torch.dtype | None = None,
    ) -> None:
        self.encoder = encoder
        self.weights = weights
        self.tile_size = tile_size
        self.autocast_dtype = autocast_dtype
        self.tiles: list[Tile] = []
        self.content_targets: list[dict[str, torch.Tensor]] = []
        self.content_energy: dict[str, torch.Tensor] = {}
        self.groups: list[_StyleGroup] = []
        self._position_weights: dict[tuple[int, int, int, int], torch.Tensor] = {}
        self.temporal: tuple[torch.Tensor, torch.Tensor] | None = None

    def set_temporal(self, target: torch.Tensor, mask: torch.Tensor) -> None:
        """Add the temporal term: stay close to ``target`` (a video's previous result, warped to this frame)
        where ``mask`` (``(1, 1, H, W)``, 0..1) trusts the warp."""
        self.temporal = (target, mask)

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

    def _sums(self, features: torch.Tensor, weight: torch.Tensor) -> Moments:
        """The weighted sums of a layer's products and (where the loss uses means) features, unnormalised."""
        gram = guided_gram(features, weight, normalize=False)
        if self.weights.style_statistics != "mean_cov":
            return Moments(gram)
        return Moments(gram, (features.float() * weight).sum(dim=(2, 3)))

    @torch.no_grad()
    def _moments(
        self, image: torch.Tensor, tiles: list[Tile], regions: list[torch.Tensor | None]
    ) -> list[tuple[dict[str, Moments], dict[str, float]]]:
        """For each region: the style statistics of ``image`` at the style layers, summed over ``tiles``, and
        the weighted positions each layer's were divided by."""
        sums: list[dict[str, list[Moments]]] = [{name: [] for name in self.weights.style_layers} for _ in regions]
        positions: list[dict[str, float]] = [dict.fromkeys(self.weights.style_layers, 1e-8) for _ in regions]
        for tile in tiles:
            features = self._encode(tile.crop(image))
            for index, region in enumerate(regions):
                for name in self.weights.style_layers:
                    weight = position_weight(tile, region, *features[name].shape[-2:])
                    sums[index][name].append(self._sums(features[name], weight))
                    positions[index][name] += float(weight.sum())
        return [
            ({name: _normalised(parts, counts[name]) for name, parts in region_sums.items()}, counts)
            for region_sums, counts in zip(sums, positions, strict=True)
        ]

    def _weight(self, tile_index: int, group_index: int, features: torch.Tensor) -> torch.Tensor:
        """The picture's weight of every position of ``features`` (cached: the same every step)."""
        height, width = features.shape[-2:]
        key = (tile_index, group_index, height, width)
        if key not in self._position_weights:
            region = self.groups[group_index].region if group_index >= 0 else None
            self._position_weights[key] = position_weight(self.tiles[tile_index], region, height, width)
        return self._position_weights[key]

    @torch.no_grad()
    def set_targets(self, content: torch.Tensor, styles: list[StyleTarget]) -> None:
        """Take the content activations of ``content`` and the Gram targets of ``styles``: blended by weight
        into one target for the whole picture, or one per region when the styles have regions."""
        self.tiles = self._plan(content)
        self._position_weights = {}
        self.content_targets = []
        self.content_energy = {}
        for index, tile in enumerate(self.tiles):
            features = self._encode(tile.crop(content))
            targets = {name: features[name].float() for name in self.weights.content_layers}
            self.content_targets.append(targets)
            for name, target in targets.items():
                energy = (target.pow(2) * self._weight(index, -1, target)).sum()
                self.content_energy[name] = self.content_energy.get(name, 0) + energy
        style_moments = [
            self._moments(style.image, self._plan(style.image), [style.source_region])[0][0] for style in styles
        ]
        if all(style.region is None for style in styles):
            shares = [style.weight / sum(style.weight for style in styles) for style in styles]
            blended = {}
            for name in self.weights.style_layers:
                layers = [moments[name] for moments in style_moments]
                gram = sum(layer.gram * share for layer, share in zip(layers, shares, strict=True))
                mean = None
                if layers[0].mean is not None:
                    mean = sum(layer.mean * share for layer, share in zip(layers, shares, strict=True))
                blended[name] = Moments(gram, mean)
            self.groups = [_StyleGroup(blended, None, 1.0)]
        else:
            # A region's term counts by its area, so each style pulls every pixel of its region equally hard
            # however large the region; its weight says how hard, relative to the heaviest style.
            heaviest = max(style.weight for style in styles)
            self.groups = [
                _StyleGroup(moments, style.region, style.weight / heaviest * float(style.region.mean()))
                for moments, style in zip(style_moments, styles, strict=True)
            ]

    def evaluate(self, image: torch.Tensor) -> dict[str, float]:
        """The weighted loss terms of ``image`` and their ``total``; adds the gradient to ``image.grad``."""
        weights = self.weights
        if len(self.tiles) == 1:
            features = self._encode(image)
            content = content_term(features, self.content_targets[0], weights.content_layers)
            style = sum(
                group.weight * layer_weight * moments_error(self._whole_moments(features[name], index), target)
                for index, group in enumerate(self.groups)
                for name, target in group.targets.items()
                for layer_weight in [weights.style_layers[name]]
            )
            terms = {"content": weights.content * content, "style": weights.style * style}
        else:
            terms = self._evaluate_tiles(image)
        terms["tv"] = weights.tv * total_variation_loss(image)
        if self.temporal is not None:
            terms["temporal"] = weights.temporal * temporal_loss(image, *self.temporal)
        terms["total"] = sum(terms.values())
        terms["total"].backward()
        return {name: float(value.detach()) for name, value in terms.items()}

    def _whole_moments(self, features: torch.Tensor, group_index: int) -> Moments:
        """The style statistics of a whole picture's ``features`` for one style group."""
        if self.groups[group_index].region is None:
            mean = (
                features.mean(dim=(2, 3), dtype=torch.float32) if self.weights.style_statistics == "mean_cov" else None
            )
            return Moments(gram_matrix(features), mean)
        weight = self._weight(0, group_index, features)
        return _normalised([self._sums(features, weight)], float(weight.sum()) + 1e-8)

    def _content(self, features: dict[str, torch.Tensor], tile_index: int) -> torch.Tensor:
        """This tile's part of the content term (:func:`~stylegram.ops.losses.content_term` split over the tiles):
        weighted squared error over the whole picture's energy."""
        total = 0
        for name, layer_weight in self.weights.content_layers.items():
            target = self.content_targets[tile_index][name]
            error = (features[name].float() - target).pow(2)
            if len(self.tiles) > 1:
                error = error * self._weight(tile_index, -1, target)
            total = total + layer_weight * error.sum() / (self.content_energy[name] + 1e-8)
        return total

    def _evaluate_tiles(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        """Style and content terms tile by tile; their gradients go to ``image.grad``, the terms are detached."""
        weights = self.weights
        measured = self._moments(image.detach(), self.tiles, [group.region for group in self.groups])
        style = 0
        style_gradients = []
        for group, (moments, positions) in zip(self.groups, measured, strict=True):
            gradients = {}
            for name, target in group.targets.items():
                layer_weight = weights.style_layers[name] * group.weight
                # ∂L/∂statistics on the small matrices, divided by the normalisation the tiles' sums below leave
                # out: their products count 1/(channels × positions), their features 1/positions.
                statistics = Moments(*(None if part is None else part.requires_grad_(True) for part in
                                       (moments[name].gram, moments[name].mean)))  # fmt: skip
                with torch.enable_grad():
                    error = moments_error(statistics, target)
                    (weights.style * layer_weight * error).backward()
                style = style + layer_weight * error.detach()
                count = positions[name]
                gradients[name] = Moments(
                    statistics.gram.grad / (count * statistics.gram.shape[-1]),
                    None if statistics.mean is None else statistics.mean.grad / count,
                )
            style_gradients.append(gradients)
        if image.grad is None:
            image.grad = torch.zeros_like(image)
        content = 0
        for tile_index, tile in enumerate(self.tiles):
            crop = tile.crop(image).detach().requires_grad_(True)
            features = self._encode(crop)
            tile_content = self._content(features, tile_index)
            surrogate = weights.content * tile_content
            for group_index, gradients in enumerate(style_gradients):
                for name, gradient in gradients.items():
                    sums = self._sums(features[name], self._weight(tile_index, group_index, features[name]))
                    surrogate = surrogate + (gradient.gram * sums.gram).sum()
                    if gradient.mean is not None:
                        surrogate = surrogate + (gradient.mean * sums.mean).sum()
            surrogate.backward()
            tile.crop(image.grad).add_(crop.grad)
            content = content + tile_content.detach()
        return {"content": weights.content * content, "style": weights.style * style.detach()}


def _normalised(parts: list[Moments], positions: float) -> Moments:
    """Statistics from the unnormalised sums of ``parts`` (tiles) over ``positions`` weighted positions in all."""
    gram = sum(part.gram for part in parts) / (positions * parts[0].gram.shape[-1])
    return Moments(gram, None if parts[0].mean is None else sum(part.mean for part in parts) / positions)


def position_weight(tile: Tile, region: torch.Tensor | None, height: int, width: int) -> torch.Tensor:
    """The weight of every position of a ``height × width`` feature map of ``tile``: the tile's feathered
    share times the region's share (None: 1), averaged down the way VGG19's poolings shrink the map."""
    weight = tile.weight if region is None else tile.weight * tile.crop(region)
    return average_down(weight, height, width)
