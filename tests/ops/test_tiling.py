import itertools

import pytest
import torch

from stylegram.ops.tiling import ALIGN, average_down, plan_tiles, tile_spans


@pytest.mark.parametrize(
    ("height", "width", "tile", "overlap"), [(300, 500, 256, 64), (2160, 3840, 1024, 192), (97, 203, 64, 16)]
)
def test_tile_weights_cover_every_pixel_exactly_once(height, width, tile, overlap):
    coverage = torch.zeros(height, width)
    tiles = plan_tiles(height, width, tile, overlap)
    for t in tiles:
        assert t.top % ALIGN == 0 and t.left % ALIGN == 0
        assert t.height < tile + ALIGN and t.width < tile + ALIGN
        coverage[t.top : t.top + t.height, t.left : t.left + t.width] += t.weight[0, 0]
    torch.testing.assert_close(coverage, torch.ones(height, width))
    assert len(tiles) > 1


def test_neighbours_share_the_overlap_and_cut_edges_carry_no_weight():
    spans = tile_spans(1000, 400, 128)
    assert spans[0][0] == 0 and spans[-1][1] == 1000
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert end - start == 128
    tiles = plan_tiles(64, 1000, 400, 128)
    first, second = tiles[0], tiles[1]
    # The outer quarter of the overlap next to a cut edge has no weight; the picture's own edges keep theirs.
    assert first.weight[0, 0, :, -32:].max() == 0 and second.weight[0, 0, :, :32].max() == 0
    assert first.weight[0, 0, :, 0].min() == 1


def test_one_tile_when_the_picture_fits():
    (tile,) = plan_tiles(48, 64, None, 0)
    assert (tile.top, tile.left, tile.height, tile.width) == (0, 0, 48, 64)
    (tile,) = plan_tiles(48, 64, 128, 32)
    assert tile.weight.min() == 1


def test_weights_pool_down_to_feature_maps():
    tile = plan_tiles(100, 300, 128, 32)[1]
    pooled = average_down(tile.weight, tile.height // 16, tile.width // 16)
    assert pooled.shape[-2:] == (tile.height // 16, tile.width // 16)
    assert pooled.min() >= 0 and pooled.max() <= 1
