"""Which part of the picture each style of a request paints: masks resolved from the request, for any engine.

A request gives regions one of three ways (see :class:`~stylegram.engines.base.Request`): a mask per style
(``StyleSpec.mask``), one label map (``Request.regions``) or ``regions="auto"``. Whatever the source, an
engine gets one soft mask per style at the output size from :func:`content_regions`, and the part of each
style image to learn from (``StyleSpec.style_mask``) from :func:`style_region`.
"""

from __future__ import annotations

import warnings

import torch
from PIL import Image

from stylegram.engines.base import Request, StyleSpec
from stylegram.errors import InputError, StylegramNotice
from stylegram.io.image import image_to_tensor, load_image, resize
from stylegram.ops.masks import mask_from_image, masks_from_label_map, resize_mask, segment_regions, soften

AUTO_REGIONS = "auto"


def _load_mask_image(source, expected: tuple[int, int], what: str, of: str) -> Image.Image:
    image = load_image(source, what=what)
    if image.size != expected:
        warnings.warn(
            f"{what} is {image.width}x{image.height}, the {of} {expected[0]}x{expected[1]}; resized to fit",
            StylegramNotice,
            stacklevel=2,
        )
        image = image.resize(expected, Image.Resampling.NEAREST)
    return image


def content_regions(request: Request, content: Image.Image, output_size: tuple[int, int]) -> list[torch.Tensor] | None:
    """One soft ``(1, 1, H, W)`` mask per style at ``output_size``, or None when the request has no regions.

    Raises:
        InputError: a mask that selects nothing, or a label map that does not match the styles.
    """
    if request.regions is None and all(style.mask is None for style in request.styles):
        return None
    count = len(request.styles)
    if isinstance(request.regions, str) and request.regions == AUTO_REGIONS:
        masks = segment_regions(image_to_tensor(resize(content, output_size)), count, seed=request.seed)
    elif request.regions is not None:
        label_map = _load_mask_image(request.regions, content.size, "region map", "photo is")
        masks = masks_from_label_map(label_map, count, request.region_colors)
        masks = [resize_mask(mask, output_size).round() for mask in masks]
    else:
        masks = []
        for index, style in enumerate(request.styles, start=1):
            image = _load_mask_image(style.mask, content.size, f"mask of style {index}", "photo is")
            masks.append(resize_mask(mask_from_image(image), output_size))
    for index, mask in enumerate(masks, start=1):
        if float(mask.max()) < 0.5:
            raise InputError(f"the region of style {index} is empty: its mask selects no part of the photo")
    return soften(masks)


def style_region(style: StyleSpec, image: Image.Image, index: int) -> torch.Tensor | None:
    """The ``(1, 1, h, w)`` part of the style image (at its own size) that its statistics come from, or None."""
    if style.style_mask is None:
        return None
    what = f"style mask of style {index}"
    mask = mask_from_image(_load_mask_image(style.style_mask, image.size, what, "style image is"))
    if float(mask.max()) < 0.5:
        raise InputError(f"the {what} selects no part of the style image")
    return mask
