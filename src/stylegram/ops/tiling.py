"""Overlapping tiles with feathered weights, so a network can see a picture too large to pass whole.

Each tile carries a weight per pixel: 1 where it alone covers the picture, ramping down to 0 across the
overlap with its neighbour, whose weight ramps up in step, so the weights of all tiles sum to exactly 1 at
every pixel (a partition of unity). Losses sum each tile's terms multiplied by its weights: every position of
the picture counts once, features near a tile's cut edge (where the network saw zero padding instead of the
neighbouring pixels) count not at all, and the hand-over from one tile to the next is gradual, so no seam
forms. The outer quarter of each overlap has weight 0 for this reason.

Tiles start at multiples of ``ALIGN`` pixels so that, after VGG19's four 2×2 poolings, the feature grid of
every tile lies on the feature grid of the whole picture.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch.nn import functional

#: Tile origins are multiples of this: VGG19 pools four times before relu5_1.
ALIGN = 16
#: Long side of the copy of a tiled picture that picture-wide statistics (instance norms, feature moments) are
#: measured on, so that every tile is treated alike.
STATISTICS_SIDE = 1024


def statistics_copy(image: torch.Tensor) -> torch.Tensor:
    """``image`` (``(N, C, H, W)``) made smaller by area averaging to a long side of ``STATISTICS_SIDE``, or itself.

    Example:
        >>> statistics_copy(torch.rand(1, 3, 2048, 1536)).shape
        torch.Size([1, 3, 1024, 768])
    """
    scale = STATISTICS_SIDE / max(image.shape[-2:])
    return functional.interpolate(image, scale_factor=scale, mode="area") if scale < 1 else image


@dataclass(frozen=True)
class Tile:
    """A rectangle of the picture and its share of every pixel in it.

    Attributes:
        top: first row.
        left: first column.
        weight: ``(1, 1, height, width)`` share of each pixel in 0..1; shares of all tiles sum to 1.
    """

    top: int
    left: int
    weight: torch.Tensor

    @property
    def height(self) -> int:
        return self.weight.shape[-2]

    @property
    def width(self) -> int:
        return self.weight.shape[-1]

    def crop(self, image: torch.Tensor) -> torch.Tensor:
        """This tile's part of ``image`` (``(N, C, H, W)``, a view)."""
        return image[..., self.top : self.top + self.height, self.left : self.left + self.width]


def average_down(weight: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Per-pixel ``weight`` averaged down to a feature map of ``height × width`` made by 2×2 poolings (which
    floor), so each feature position gets the mean weight of the pixels it pools.

    Example:
        >>> average_down(torch.arange(16.0).view(1, 1, 4, 4), 2, 2).flatten().tolist()
        [2.5, 4.5, 10.5, 12.5]
    """
    factor = 2 ** round(math.log2(weight.shape[-2] / height))
    if factor == 1:
        return weight
    return functional.avg_pool2d(weight, factor)[..., :height, :width]


def tile_spans(length: int, tile: int, overlap: int) -> list[tuple[int, int]]:
    """``(start, end)`` of the fewest tiles of at most about ``tile`` pixels that cover ``length`` with
    neighbours sharing ``overlap`` pixels; starts are aligned to ``ALIGN`` (a tile may be up to ``ALIGN - 1``
    pixels longer than ``tile``).

    Example:
        >>> tile_spans(100, 128, 32)
        [(0, 100)]
        >>> tile_spans(1000, 512, 128)
        [(0, 416), (288, 704), (576, 1000)]
    """
    if length <= tile:
        return [(0, length)]
    count = math.ceil((length - overlap) / (tile - overlap))
    stride = (length - overlap) / count
    starts = [ALIGN * math.floor(index * stride / ALIGN) for index in range(count)]
    ends = [start + overlap for start in starts[1:]] + [length]
    return list(zip(starts, ends, strict=True))


def feather(spans: list[tuple[int, int]]) -> list[torch.Tensor]:
    """One weight vector per span: ramps across each overlap, zero in its outer quarters, summing to 1.

    Example:
        >>> [w.tolist() for w in feather([(0, 6), (2, 8)])]
        [[1.0, 1.0, 1.0, 0.75, 0.25, 0.0], [0.0, 0.25, 0.75, 1.0, 1.0, 1.0]]
    """
    weights = []
    for index, (start, end) in enumerate(spans):
        position = torch.arange(start, end, dtype=torch.float32) + 0.5
        weight = torch.ones(end - start)
        if index > 0:
            weight = weight * _ramp(position, spans[index][0], spans[index - 1][1])
        if index < len(spans) - 1:
            weight = weight * (1 - _ramp(position, spans[index + 1][0], spans[index][1]))
        weights.append(weight)
    return weights


def _ramp(position: torch.Tensor, overlap_start: int, overlap_end: int) -> torch.Tensor:
    """0 before the overlap's second quarter, 1 after its third, linear in between."""
    fraction = (position - overlap_start) / (overlap_end - overlap_start)
    return ((fraction - 0.25) / 0.5).clamp(0, 1)


def plan_tiles(height: int, width: int, tile: int | None, overlap: int) -> list[Tile]:
    """Cover a ``height × width`` picture with tiles of at most ``tile`` pixels a side (None: one tile).

    Example:
        >>> tiles = plan_tiles(300, 500, tile=256, overlap=64)
        >>> [(t.top, t.left, t.height, t.width) for t in tiles]  # doctest: +NORMALIZE_WHITESPACE
        [(0, 0, 176, 208), (0, 144, 176, 208), (0, 288, 176, 212),
         (112, 0, 188, 208), (112, 144, 188, 208), (112, 288, 188, 212)]
        >>> sum(t.weight.sum() for t in tiles).item() == 300 * 500
        True
    """
    if tile is None:
        return [Tile(0, 0, torch.ones(1, 1, height, width))]
    if overlap * 3 > tile or overlap < ALIGN:
        raise ValueError(f"overlap {overlap} must be {ALIGN} pixels or more and at most a third of the tile {tile}")
    rows, columns = tile_spans(height, tile, overlap), tile_spans(width, tile, overlap)
    row_weights, column_weights = feather(rows), feather(columns)
    return [
        Tile(top, left, (row_weight[:, None] * column_weight[None, :])[None, None])
        for (top, _), row_weight in zip(rows, row_weights, strict=True)
        for (left, _), column_weight in zip(columns, column_weights, strict=True)
    ]
