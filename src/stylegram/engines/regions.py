"""Which part of the picture each style of a request paints: masks resolved from the request, for any engine.

A request gives regions one of four ways (see :class:`~stylegram.engines.base.Request`): a mask per style
(``StyleSpec.mask``), one label map (``Request.regions``), ``regions="auto"`` (colour and position), or regions
by meaning (``"semantic[:K]"``, ``"subject"``). An engine first calls :func:`resolve_regions`, which turns
regions by meaning, matched regions (one painting applied region to region) and kept regions into a mask per
style; then it gets one soft mask per style at the output size from :func:`content_regions`, the part of each
style image to learn from (``StyleSpec.style_mask``) from :func:`style_region`, and after painting lets the photo
show where no style paints (:func:`keep_photo`) and draws the regions used (:func:`region_map`).
"""

from __future__ import annotations

import dataclasses
import warnings

import torch
from PIL import Image

from stylegram.engines.base import Request, StyleSpec, region_kind
from stylegram.errors import InputError, StylegramNotice
from stylegram.io.image import fit_long_side, image_to_tensor, load_image, resize
from stylegram.ops.masks import (
    format_color,
    label_map_colors,
    mask_from_image,
    masks_from_label_map,
    parse_color,
    resize_mask,
    segment_regions,
    soften,
)
from stylegram.segmentation import describe_regions, segment, subject

AUTO_REGIONS = "auto"
#: Regions a single painting is matched in when ``semantic`` names no number.
DEFAULT_MATCHED_REGIONS = 3
#: The colour of each style's region in a drawn region map, in style order; kept regions are black.
REGION_PALETTE = ("#e6194b", "#3cb44b", "#4363d8", "#ffe119", "#911eb4", "#42d4f4", "#f58231", "#a9a9a9")
KEPT_COLOR = "#000000"


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


def resolve_regions(request: Request, photo: Image.Image) -> Request:
    """``request`` with regions by meaning, matched regions and kept regions turned into one mask per style at
    the photo's size (and, matched, a style mask per painting region); any other request as it is.

    Raises:
        InputError: a photo or painting too small or too uniform to split, a label map that does not match.
    """
    kind, count = region_kind(request.regions)
    if kind not in ("semantic", "subject") and not request.match_regions and request.keep_regions is None:
        return request
    if count is None:
        count = DEFAULT_MATCHED_REGIONS if request.match_regions else len(request.styles)
    tensor = image_to_tensor(photo)
    kept = torch.zeros(tensor.shape[-2:], dtype=torch.bool)
    descriptors = None  # regions by meaning come with theirs; the others are described if matched
    if kind in ("semantic", "subject"):
        found = segment(tensor, count, seed=request.seed) if kind == "semantic" else subject(tensor, seed=request.seed)
        labels, descriptors = found.labels, found.descriptors
    elif kind == AUTO_REGIONS:
        labels = torch.cat(segment_regions(tensor, count, seed=request.seed), dim=1)[0].argmax(dim=0)
    else:
        labels, kept = _label_map_regions(request, photo)
    regions = [(labels == index) & ~kept for index in range(int(labels.max()) + 1)]
    if not request.match_regions and len(regions) != len(request.styles):
        raise InputError(
            f"the region map has {len(regions)} region(s) to paint for {len(request.styles)} style(s); give one "
            "style per region, or one painting with matched regions"
        )
    if not request.match_regions:
        styles = [
            dataclasses.replace(spec, mask=_mask_image(region))
            for spec, region in zip(request.styles, regions, strict=True)
        ]
    else:
        spec = request.styles[0]
        present = [index for index, region in enumerate(regions) if bool(region.any())]
        painting = image_to_tensor(load_image(spec.image, what="painting"))
        painted = segment(painting, len(present), seed=request.seed, what="painting")
        if descriptors is None:  # kept pixels belong to no region painted
            descriptors = describe_regions(tensor, labels.masked_fill(kept, -1))
        nearest = torch.cdist(descriptors, painted.descriptors).argmin(dim=1)
        styles = [
            dataclasses.replace(
                spec, mask=_mask_image(regions[index]), style_mask=_mask_image(painted.labels == int(nearest[index]))
            )
            for index in present
        ]
    return dataclasses.replace(
        request, styles=styles, regions=None, region_colors=None, match_regions=False, keep_regions=None
    )


def _label_map_regions(request: Request, photo: Image.Image) -> tuple[torch.Tensor, torch.Tensor]:
    """A label map's regions as ``(H, W)`` labels (in style order) at the photo's size, and where it is kept."""
    label_map = _load_mask_image(request.regions, photo.size, "region map", "photo is")
    kept = [parse_color(color) for color in request.keep_regions or []]
    if request.region_colors is not None:
        colors = [parse_color(color) for color in request.region_colors]
    else:
        colors = [color for color in label_map_colors(label_map) if color not in kept]
    named = [format_color(color) for color in colors + kept]
    masks = torch.cat(masks_from_label_map(label_map, len(named), named), dim=1)[0]
    labels = masks.argmax(dim=0)
    return labels.masked_fill(labels >= len(colors), 0), labels >= len(colors)


def _mask_image(region: torch.Tensor) -> Image.Image:
    return Image.fromarray(region.numpy().astype("uint8") * 255, mode="L")


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


def keep_photo(picture: torch.Tensor, photo: torch.Tensor, regions: list[torch.Tensor] | None) -> torch.Tensor:
    """``picture`` with ``photo`` (both ``(1, 3, H, W)``) showing through where no style's region covers it
    (the kept regions), with the regions' soft borders."""
    if regions is None:
        return picture
    coverage = resize_mask(torch.cat(regions, dim=1).sum(dim=1, keepdim=True), picture.shape[-2:][::-1])
    coverage = coverage.clamp(0, 1).to(picture)
    if float(coverage.min()) > 0.999:
        return picture
    return photo.to(picture) + coverage * (picture - photo.to(picture))


def region_map(regions: list[torch.Tensor] | None, size: tuple[int, int]) -> Image.Image | None:
    """The regions as a label map at ``size`` (``(width, height)``): each style's colour of :data:`REGION_PALETTE`
    in style order, :data:`KEPT_COLOR` where none paints.

    Example:
        >>> left = torch.zeros(1, 1, 4, 4)
        >>> left[..., :2] = 1
        >>> region_map([left, 1 - left], (4, 4)).getpixel((0, 0)), region_map([left], (4, 4)).getpixel((3, 0))
        ((230, 25, 75), (0, 0, 0))
    """
    if regions is None:
        return None
    shares = torch.cat([resize_mask(region.float().cpu(), size) for region in regions], dim=1)[0]
    palette = torch.tensor([parse_color(REGION_PALETTE[index % len(REGION_PALETTE)]) for index in range(len(regions))])
    colors = torch.cat([palette, torch.tensor([parse_color(KEPT_COLOR)])]).to(torch.uint8)
    labels = shares.argmax(dim=0).masked_fill(shares.sum(dim=0) < 0.5, len(regions))
    return Image.fromarray(colors[labels].numpy(), mode="RGB")


#: Long side of the label maps :func:`draw_regions` makes (regions are large areas; the engines resize maps).
DRAWN_SIDE = 1024


def draw_regions(photo: Image.Image, count: int, seed: int = 0) -> Image.Image:
    """The photo's ``count`` regions by meaning as a label map (:func:`region_map`'s colours, top region first)
    at the photo's size fitted within :data:`DRAWN_SIDE`: what a person then assigns styles to.

    Raises:
        InputError: as :func:`stylegram.segmentation.segment`.
    """
    size = fit_long_side(photo.size, min(DRAWN_SIDE, max(photo.size)))
    return region_map(segment(image_to_tensor(resize(photo, size)), count, seed=seed).masks(), size)
