import pytest
import torch
from PIL import Image

from stylegram.engines import Request, StyleSpec
from stylegram.engines.base import check_request
from stylegram.engines.regions import content_regions, style_region
from stylegram.errors import InputError, StylegramNotice


def half_mask(size, left=True) -> Image.Image:
    image = Image.new("L", size, 0 if left else 255)
    image.paste(255 if left else 0, (0, 0, size[0] // 2, size[1]))
    return image


@pytest.fixture
def photo() -> Image.Image:
    return Image.new("RGB", (80, 60), "grey")


def test_masks_are_resized_to_the_output_with_a_notice(photo):
    request = Request(
        photo, [StyleSpec("a.jpg", mask=half_mask((40, 30))), StyleSpec("b.jpg", mask=half_mask((80, 60), False))]
    )
    with pytest.warns(StylegramNotice, match="mask of style 1 is 40x30, the photo is 80x60; resized"):
        left, right = content_regions(request, photo, (160, 120))
    assert left.shape == (1, 1, 120, 160)
    assert left[..., :70].min() > 0.99 and left[..., 90:].max() < 0.01
    torch.testing.assert_close(left + right, torch.ones_like(left))


def test_no_regions_and_empty_regions(photo):
    assert content_regions(Request(photo, [StyleSpec("a.jpg")]), photo, (80, 60)) is None
    empty = Request(photo, [StyleSpec("a.jpg", mask=Image.new("L", (80, 60), 0))])
    with pytest.raises(InputError, match="region of style 1 is empty"):
        content_regions(empty, photo, (80, 60))


def test_region_map_and_automatic_regions_give_one_mask_per_style(photo):
    label_map = half_mask((80, 60)).convert("RGB")
    mapped = content_regions(Request(photo, [StyleSpec("a"), StyleSpec("b")], regions=label_map), photo, (80, 60))
    assert mapped[1][..., :30].min() > 0.99  # the white (lighter) half belongs to style 2
    two_tone = Image.new("RGB", (80, 60), "navy")
    two_tone.paste("orange", (0, 30, 80, 60))
    top, bottom = content_regions(
        Request(two_tone, [StyleSpec("a"), StyleSpec("b")], regions="auto"), two_tone, (80, 60)
    )
    assert top[..., :25, :].min() > 0.99 and bottom[..., 35:, :].min() > 0.99


def test_style_masks_select_part_of_the_painting():
    painting = Image.new("RGB", (50, 40))
    mask = style_region(StyleSpec(painting, style_mask=half_mask((50, 40))), painting, 1)
    assert mask.shape == (1, 1, 40, 50) and mask[..., :25].min() == 1
    assert style_region(StyleSpec(painting), painting, 1) is None
    with pytest.raises(InputError, match="style mask of style 2 selects no part"):
        style_region(StyleSpec(painting, style_mask=Image.new("L", (50, 40))), painting, 2)


@pytest.mark.parametrize(
    ("styles", "extra", "message"),
    [
        ([StyleSpec("a", mask="m"), StyleSpec("b")], {}, "1 of 2 styles have a mask"),
        ([StyleSpec("a", mask="m")], {"regions": "map.png"}, "either a mask per style or a region map"),
        ([StyleSpec("a"), StyleSpec("b")], {"region_colors": ["red", "blue"]}, "give the map too"),
        ([StyleSpec("a")], {"regions": "auto"}, "two or more styles"),
    ],
)
def test_inconsistent_region_requests_are_refused(styles, extra, message):
    with pytest.raises(InputError, match=message):
        check_request(Request("photo.jpg", styles, **extra))
