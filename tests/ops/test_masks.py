import pytest
import torch
from PIL import Image, ImageDraw

from stylegram.errors import InputError
from stylegram.ops.masks import masks_from_label_map, parse_color, segment_regions, soften


def two_colour_map(left="red", right="blue", size=(40, 20)) -> Image.Image:
    image = Image.new("RGB", size, right)
    ImageDraw.Draw(image).rectangle((0, 0, size[0] // 2 - 1, size[1]), fill=left)
    return image


def test_label_map_colours_go_to_styles_dark_to_light_or_as_listed():
    label_map = two_colour_map("white", "black")
    black_first = masks_from_label_map(label_map, 2)
    assert black_first[0][..., 20:].min() == 1 and black_first[0][..., :20].max() == 0
    white_first = masks_from_label_map(label_map, 2, ["#ffffff", "black"])
    assert torch.equal(white_first[0], black_first[1]) and torch.equal(white_first[1], black_first[0])


def test_anti_aliased_border_pixels_join_the_nearest_region():
    label_map = two_colour_map("black", "white", size=(200, 100))
    for row in range(100):  # a one-pixel grey seam, as a smooth brush leaves it: 0.5 % of the map
        label_map.putpixel((99, row), (90, 90, 90))
    label_map.putpixel((100, 0), (200, 200, 200))
    dark, light = masks_from_label_map(label_map, 2)
    assert torch.equal(dark + light, torch.ones_like(dark))
    assert dark[0, 0, 0, 99] == 1 and light[0, 0, 0, 100] == 1


@pytest.mark.parametrize(
    ("count", "colors", "message"),
    [
        (3, None, r"has 2 colour\(s\) \(#0000ff, #ff0000\) for 3 style"),
        (1, None, "for 1 style"),
        (2, ["red", "green"], "region colour #008000 of style 2 is not in the map"),
        (2, ["red", "red"], "colour #0000ff maps to no style"),
        (2, ["red"], "1 region colour"),
        (2, ["red", "notacolour"], "unknown colour 'notacolour'"),
    ],
)
def test_label_maps_that_do_not_fit_the_styles_are_refused(count, colors, message):
    with pytest.raises(InputError, match=message):
        masks_from_label_map(two_colour_map(), count, colors)


def test_parse_color_takes_names_and_hex():
    assert parse_color(" #FF8000 ") == (255, 128, 0)


def test_automatic_regions_follow_colour_and_come_top_first():
    bands = torch.zeros(1, 3, 60, 40)
    bands[:, 2, :20] = 1.0  # blue sky
    bands[:, 1, 20:40] = 0.6  # green hills
    bands[:, 0, 40:] = 0.8  # red field
    masks = segment_regions(bands, 3, seed=3)
    for index, mask in enumerate(masks):
        assert mask[..., 20 * index : 20 * index + 20, :].mean() > 0.95
        assert mask.sum() == pytest.approx(20 * 40, rel=0.1)
    top, bottom = segment_regions(torch.full((1, 3, 16, 16), 0.5), 2)  # one colour: split by position alone
    assert top.sum() == bottom.sum() == 128 and torch.equal(top + bottom, torch.ones_like(top))


def test_softened_masks_blend_at_the_border_and_still_sum_to_one():
    hard = masks_from_label_map(two_colour_map(size=(1000, 100)), 2, ["red", "blue"])
    soft = soften(hard)
    row = soft[0][0, 0, 50]
    assert row[:470].min() > 0.99 and row[530:].max() < 0.01  # σ is 1 % of the long side: 10 px
    assert 0.4 < row[500].item() < 0.6
    torch.testing.assert_close(soft[0] + soft[1], torch.ones_like(soft[0]))
