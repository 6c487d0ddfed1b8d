import pytest
import torch
from PIL import Image, ImageColor

from stylegram.engines import Request, StyleSpec
from stylegram.engines.base import check_request
from stylegram.engines.regions import (
    KEPT_COLOR,
    REGION_PALETTE,
    content_regions,
    keep_photo,
    region_map,
    resolve_regions,
    style_region,
)
from stylegram.errors import InputError, StylegramNotice
from stylegram.io.image import image_to_tensor


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
        ([StyleSpec("a")], {"regions": "subject"}, "subject regions need two or more styles"),
        ([StyleSpec("a"), StyleSpec("b")], {"regions": "semantic:9"}, "must be 2 to 8, got '9'"),
        ([StyleSpec("a"), StyleSpec("b")], {"regions": "semantic:two"}, "must be 2 to 8, got 'two'"),
        ([StyleSpec("a"), StyleSpec("b")], {"regions": "semantic:3"}, "makes 3 regions for 2 styles"),
        ([StyleSpec("a"), StyleSpec("b")], {"regions": "semantic", "match_regions": True}, "take one painting"),
        ([StyleSpec("a")], {"match_regions": True}, "need the photo's regions"),
        ([StyleSpec("a"), StyleSpec("b")], {"regions": "auto", "keep_regions": ["red"]}, "give the map too"),
    ],
)
def test_inconsistent_region_requests_are_refused(styles, extra, message):
    with pytest.raises(InputError, match=message):
        check_request(Request("photo.jpg", styles, **extra))


def sky_over_field(size=(128, 96), seed=0) -> Image.Image:
    """A blue sky over a noisy green field, as a photo or a painting would have them."""
    width, height = size
    generator = torch.Generator().manual_seed(seed)
    sky = torch.tensor([0.35, 0.55, 0.95]).view(1, 3, 1, 1).expand(1, 3, height // 2, width)
    field = torch.rand(1, 3, height - height // 2, width, generator=generator) * 0.4
    field = field + torch.tensor([0.1, 0.45, 0.1]).view(1, 3, 1, 1)
    picture = (torch.cat([sky, field], dim=2)[0].permute(1, 2, 0) * 255).round().byte().numpy()
    return Image.fromarray(picture)


def test_semantic_regions_become_one_mask_per_style():
    photo = sky_over_field()
    resolved = resolve_regions(Request(photo, [StyleSpec("a"), StyleSpec("b")], regions="semantic"), photo)
    assert resolved.regions is None and [style.image for style in resolved.styles] == ["a", "b"]
    sky, field = (image_to_tensor(style.mask.convert("RGB"))[:, :1] for style in resolved.styles)
    assert sky[..., :40, :].min() == 1 and field[..., 56:, :].min() == 1
    torch.testing.assert_close(sky + field, torch.ones_like(sky))


def test_matched_regions_paint_each_photo_region_from_its_like_in_the_painting():
    photo = sky_over_field()
    # The painting has its sky below its field: matching must pair by kind, not by place.
    painting = sky_over_field((96, 128), seed=1).transpose(Image.Transpose.FLIP_TOP_BOTTOM)
    request = Request(photo, [StyleSpec(painting, weight=2.0)], regions="semantic:2", match_regions=True)
    resolved = resolve_regions(request, photo)
    assert len(resolved.styles) == 2 and not resolved.match_regions
    assert all(style.image is painting and style.weight == 2.0 for style in resolved.styles)
    photo_sky, painting_sky = resolved.styles[0].mask, resolved.styles[0].style_mask
    assert photo_sky.getpixel((64, 10)) == 255 and photo_sky.getpixel((64, 90)) == 0
    assert painting_sky.getpixel((48, 120)) == 255 and painting_sky.getpixel((48, 10)) == 0
    flat = Image.new("RGB", (96, 96), "grey")
    with pytest.raises(InputError, match="the painting is too uniform to split into 2 regions"):
        resolve_regions(Request(photo, [StyleSpec(flat)], regions="semantic:2", match_regions=True), photo)


def test_kept_regions_are_painted_by_no_style_and_show_the_photo():
    photo = Image.new("RGB", (60, 30), "grey")
    label_map = Image.new("RGB", (60, 30), "red")
    label_map.paste((0, 0, 255), (20, 0, 40, 30))
    label_map.paste((0, 255, 0), (40, 0, 60, 30))
    request = Request(photo, [StyleSpec("a"), StyleSpec("b")], regions=label_map, keep_regions=["#00ff00"])
    resolved = resolve_regions(request, photo)
    masks = [image_to_tensor(style.mask.convert("RGB"))[:, :1] for style in resolved.styles]
    # Dark to light among the colours not kept: blue is style 1, red style 2; green is nobody's.
    assert masks[0][..., 20:40].min() == 1 and masks[1][..., :20].min() == 1
    assert (masks[0] + masks[1])[..., 40:].max() == 0
    soft = content_regions(resolved, photo, (60, 30))
    picture, original = torch.zeros(1, 3, 30, 60), torch.ones(1, 3, 30, 60)
    kept = keep_photo(picture, original, soft)
    assert kept[..., 50:].min() > 0.99 and kept[..., :30].max() < 0.01
    drawn = region_map(soft, (60, 30))
    assert drawn.getpixel((30, 15)) == ImageColor.getrgb(REGION_PALETTE[0])
    assert drawn.getpixel((55, 15)) == ImageColor.getrgb(KEPT_COLOR)
    assert keep_photo(picture, original, None) is picture
    with pytest.raises(InputError, match=r"the region map has 2 region\(s\) to paint for 1 style"):
        resolve_regions(Request(photo, [StyleSpec("a")], regions=label_map, keep_regions=["#00ff00"]), photo)
