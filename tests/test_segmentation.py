"""Regions by meaning: texture and kind, not only colour; the shipped classifier; the subject; pictures that
cannot be split."""

from pathlib import Path

import pytest
import torch

from stylegram.errors import InputError
from stylegram.io.image import image_to_tensor, load_image, resize
from stylegram.segmentation import (
    MAX_REGIONS,
    REGION_CLASSES,
    class_inputs,
    class_posteriors,
    describe_regions,
    segment,
    subject,
)

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "images"


def stripes_beside_flat(height: int = 96, width: int = 128) -> torch.Tensor:
    """Fine black-and-white stripes on the left, flat grey of the same mean on the right."""
    image = torch.full((1, 3, height, width), 0.5)
    columns = torch.arange(width // 2)
    image[..., : width // 2] = ((columns // 2) % 2).float().view(1, 1, 1, -1).expand(1, 3, height, -1)
    return image


def test_regions_follow_texture_where_colour_alone_cannot_tell():
    labels = segment(stripes_beside_flat(), 2).labels
    left, right = labels[:, 8:56], labels[:, 72:120]
    left_region = int(left.flatten().mode().values)
    assert (left == left_region).float().mean() > 0.9
    assert (right != left_region).float().mean() > 0.9


def test_regions_are_numbered_from_the_top_and_carry_comparable_descriptors():
    sky = torch.tensor([0.35, 0.55, 0.95]).view(1, 3, 1, 1).expand(1, 3, 40, 96)
    generator = torch.Generator().manual_seed(0)
    grass = torch.rand(1, 3, 56, 96, generator=generator) * 0.4 + torch.tensor([0.1, 0.45, 0.1]).view(1, 3, 1, 1)
    picture = torch.cat([sky, grass], dim=2)
    found = segment(picture, 2)
    assert (found.labels[:32] == 0).float().mean() > 0.95 and (found.labels[-40:] == 1).float().mean() > 0.95
    assert found.descriptors.shape[0] == 2 and len(found.masks()) == 2
    # The same regions described again, from the labels alone, give the same descriptors.
    torch.testing.assert_close(describe_regions(picture, found.labels), found.descriptors)
    # Pixels in no region (−1, as kept ones are) leave the descriptors of the others alone.
    sky_only = found.labels.masked_fill(found.labels == 1, -1)
    assert not torch.allclose(describe_regions(picture, torch.zeros_like(found.labels))[0], found.descriptors[0])
    torch.testing.assert_close(describe_regions(picture, sky_only)[0], found.descriptors[0])


def test_the_subject_is_the_thing_in_the_middle():
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, 96), torch.linspace(-1, 1, 128), indexing="ij")
    disk = (yy**2 + xx**2 < 0.3).float()
    generator = torch.Generator().manual_seed(1)
    texture = torch.rand(1, 3, 96, 128, generator=generator) * 0.3 + torch.tensor([0.8, 0.3, 0.1]).view(1, 3, 1, 1)
    picture = disk * texture + (1 - disk) * torch.tensor([0.2, 0.4, 0.7]).view(1, 3, 1, 1)
    labels = subject(picture).labels
    assert (labels[40:56, 56:72] == 0).all() and (labels[:10, :10] == 1).all() and (labels[-10:, -10:] == 1).all()


@pytest.mark.parametrize(
    ("picture", "count", "message"),
    [
        (torch.rand(1, 3, 96, 96), 1, "must be 2 to 8, got 1"),
        (torch.rand(1, 3, 96, 96), MAX_REGIONS + 1, "must be 2 to 8, got 9"),
        (torch.rand(1, 3, 40, 96), 2, "is 96x40; regions need at least 64 px a side"),
        (torch.full((1, 3, 96, 96), 0.3), 3, "too uniform to split into 3 regions"),
    ],
)
def test_pictures_that_cannot_be_split_are_refused(picture, count, message):
    with pytest.raises(InputError, match=message):
        segment(picture, count)


@pytest.mark.parametrize(
    ("photo", "top", "bottom"),
    [("golden_gate", "sky", "water"), ("tubingen", "sky", "water"), ("hoovertowernight", "sky", "building")],
)
def test_the_shipped_classifier_knows_sky_water_and_buildings_in_photos_it_never_saw(photo, top, bottom):
    picture = load_image(EXAMPLES / f"{photo}.jpg")
    inputs, grid = class_inputs(image_to_tensor(resize(picture, (384, round(384 * picture.height / picture.width)))))
    posteriors = class_posteriors(inputs).view(*grid, len(REGION_CLASSES))
    torch.testing.assert_close(posteriors.sum(dim=-1), torch.ones(grid))
    band = grid[0] // 6
    top_kinds = posteriors[:band].argmax(dim=-1).flatten().bincount(minlength=len(REGION_CLASSES))
    bottom_kinds = posteriors[-band:].argmax(dim=-1).flatten().bincount(minlength=len(REGION_CLASSES))
    assert top_kinds.argmax() == REGION_CLASSES.index(top) and top_kinds.max() > 0.6 * top_kinds.sum()
    assert bottom_kinds.argmax() == REGION_CLASSES.index(bottom) and bottom_kinds.max() > 0.5 * bottom_kinds.sum()
