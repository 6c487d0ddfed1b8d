"""Region masks: which part of the picture each style paints, with soft borders.

A mask is a ``(1, 1, H, W)`` tensor of shares in 0..1. Masks come from three places:

* a greyscale image per style (:func:`mask_from_image`): white is the style's region;
* one label map whose flat colours name the regions (:func:`masks_from_label_map`);
* an automatic segmentation of the photo into k regions by colour and position (:func:`segment_regions`).

Hard borders would make each style stop at a pixel-sharp line, and the Gram statistics of a style stop short
of its border, so :func:`soften` blurs the masks; a partition stays a partition (the blur is linear).
The losses then use masked ("guided", Gatys et al. 2017) Gram matrices: every position counts by its share.
"""

from __future__ import annotations

import math

import torch
from PIL import Image, ImageColor
from torch.nn import functional

from stylegram.errors import InputError
from stylegram.ops.color import rgb_to_yiq

#: σ of the soft border, as a share of the picture's long side.
BORDER_SOFTNESS = 0.01
#: Label-map colours covering less of the map than this are anti-aliasing at a border, not regions: each such
#: pixel joins the region of the nearest main colour.
MIN_REGION_SHARE = 0.01
#: Long side the automatic segmentation works at: regions are large areas, and k-means costs grow with pixels.
SEGMENTATION_SIDE = 128


def mask_from_image(image: Image.Image) -> torch.Tensor:
    """A greyscale share per pixel (white 1, black 0) from any image.

    Example:
        >>> mask_from_image(Image.new("L", (3, 2), 255)).shape
        torch.Size([1, 1, 2, 3])
    """
    grey = torch.frombuffer(bytearray(image.convert("L").tobytes()), dtype=torch.uint8)
    return grey.reshape(1, 1, image.height, image.width).float() / 255.0


def resize_mask(mask: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """``mask`` at ``(width, height)``: area-averaged when shrinking, bilinear when growing.

    Example:
        >>> resize_mask(torch.ones(1, 1, 8, 8), (2, 4)).shape
        torch.Size([1, 1, 4, 2])
    """
    width, height = size
    if (height, width) == tuple(mask.shape[-2:]):
        return mask
    if height <= mask.shape[-2] and width <= mask.shape[-1]:
        return functional.interpolate(mask, size=(height, width), mode="area")
    return functional.interpolate(mask, size=(height, width), mode="bilinear", align_corners=False).clamp(0, 1)


def parse_color(text: str) -> tuple[int, int, int]:
    """An RGB triple from a colour name or ``#rrggbb``.

    Example:
        >>> parse_color("red"), parse_color("#0080ff")
        ((255, 0, 0), (0, 128, 255))
    """
    try:
        return ImageColor.getrgb(text.strip())[:3]
    except ValueError:
        raise InputError(f"unknown colour {text!r}; use a name such as red or #rrggbb") from None


def format_color(rgb: tuple[int, int, int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def _pixels(label_map: Image.Image) -> torch.Tensor:
    pixels = torch.frombuffer(bytearray(label_map.convert("RGB").tobytes()), dtype=torch.uint8)
    return pixels.reshape(-1, 3).long()


def label_map_colors(label_map: Image.Image) -> list[tuple[int, int, int]]:
    """The main colours of a label map (each covering at least :data:`MIN_REGION_SHARE`), dark to light.

    Example:
        >>> halves = Image.new("RGB", (4, 2), "white")
        >>> halves.paste((0, 0, 255), (0, 0, 2, 2))
        >>> label_map_colors(halves)
        [(0, 0, 255), (255, 255, 255)]
    """
    pixels = _pixels(label_map)
    keys = pixels[:, 0] * 65536 + pixels[:, 1] * 256 + pixels[:, 2]
    values, counts = torch.unique(keys, return_counts=True)
    main = values[counts >= MIN_REGION_SHARE * keys.numel()]
    palette = [((v // 65536).item(), (v // 256 % 256).item(), (v % 256).item()) for v in main]
    return sorted(palette, key=lambda c: (0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2], c))


def masks_from_label_map(label_map: Image.Image, count: int, colors: list[str] | None = None) -> list[torch.Tensor]:
    """One hard mask per style from a map painted in flat colours.

    Args:
        label_map: the map; each main colour is one region.
        count: the number of styles.
        colors: the colour of each style's region, in style order; None takes the map's colours from dark to
            light (a black-and-white map: black is style 1, white style 2).

    Raises:
        InputError: the map has more or fewer regions than there are styles, a listed colour is not in the
            map, or a colour of the map belongs to no style.

    Example:
        >>> halves = Image.new("RGB", (4, 2), "white")
        >>> halves.paste((0, 0, 0), (0, 0, 2, 2))
        >>> [m.flatten().tolist() for m in masks_from_label_map(halves, 2)]
        [[1.0, 1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0, 1.0]]
    """
    pixels = _pixels(label_map)
    palette = label_map_colors(label_map)
    found = ", ".join(format_color(c) for c in palette)
    if colors is None:
        if len(palette) != count:
            raise InputError(
                f"the region map has {len(palette)} colour(s) ({found}) for {count} style(s); give one style per region"
            )
    else:
        if len(colors) != count:
            raise InputError(f"{len(colors)} region colour(s) given for {count} style(s); give one per style")
        wanted = [parse_color(text) for text in colors]
        for index, color in enumerate(wanted, start=1):
            if color not in palette:
                raise InputError(f"region colour {format_color(color)} of style {index} is not in the map ({found})")
        for color in palette:
            if color not in wanted:
                raise InputError(f"region map colour {format_color(color)} maps to no style; map colours: {found}")
        palette = wanted
    centres = torch.tensor(palette, dtype=torch.float32)
    nearest = torch.cdist(pixels.float(), centres).argmin(dim=1)
    return [(nearest == index).float().reshape(1, 1, label_map.height, label_map.width) for index in range(count)]


def segment_regions(image: torch.Tensor, count: int, seed: int = 0, iterations: int = 20) -> list[torch.Tensor]:
    """Split a photo into ``count`` hard regions by colour and position (k-means), top region first.

    Each pixel is described by its YIQ colour and its position (at a third of the colour's weight), so a region
    is an area of similar colour that tends to hang together: sky, sea, a lawn. It knows nothing of objects:
    a face and a wall of the same tone fall together, and a multicoloured object is split.

    Args:
        image: ``(1, 3, H, W)`` RGB in 0..1.
        count: the number of regions (at least 2).
        seed: seeds the choice of the first centres.
        iterations: k-means rounds.

    Example:
        >>> sky_and_sea = torch.cat([torch.ones(1, 3, 8, 16), torch.zeros(1, 3, 8, 16)], dim=2)
        >>> top, bottom = segment_regions(sky_and_sea, 2)
        >>> top[..., :8, :].mean().item(), bottom[..., 8:, :].mean().item()
        (1.0, 1.0)
    """
    if count < 2:
        raise InputError("automatic regions need two or more styles, one per region")
    height, width = image.shape[-2:]
    scale = min(1.0, SEGMENTATION_SIDE / max(height, width))
    small_size = (max(1, round(height * scale)), max(1, round(width * scale)))
    small = functional.interpolate(image.float(), size=small_size, mode="area")
    rows, columns = torch.meshgrid(
        torch.linspace(0, 1, small_size[0]), torch.linspace(0, 1, small_size[1]), indexing="ij"
    )
    position = torch.stack([rows, columns]) * (max(small_size) / math.hypot(*small_size)) / 3
    points = torch.cat([rgb_to_yiq(small)[0], position]).reshape(5, -1).T
    centres = _kmeans_plus_plus(points, count, torch.Generator().manual_seed(seed))
    for _ in range(iterations):
        labels = torch.cdist(points, centres).argmin(dim=1)
        for index in range(count):
            members = points[labels == index]
            if len(members):
                centres[index] = members.mean(dim=0)
    # Smooth the labels so that specks join the region around them, then bring them back to full size.
    one_hot = functional.one_hot(labels, count).T.float().reshape(1, count, *small_size)
    one_hot = gaussian_blur(one_hot, sigma=1.0)
    full = functional.interpolate(one_hot, size=(height, width), mode="bilinear", align_corners=False)
    labels = full.argmax(dim=1, keepdim=True)
    masks = [(labels == index).float() for index in range(count)]
    return sorted(masks, key=_mean_row)


def _kmeans_plus_plus(points: torch.Tensor, count: int, generator: torch.Generator) -> torch.Tensor:
    centres = [points[torch.randint(len(points), (1,), generator=generator)].squeeze(0)]
    for _ in range(count - 1):
        distance = torch.cdist(points, torch.stack(centres)).min(dim=1).values.pow(2)
        if float(distance.sum()) == 0:
            raise InputError(f"the photo is too uniform to split into {count} regions")
        centres.append(points[torch.multinomial(distance, 1, generator=generator)].squeeze(0))
    return torch.stack(centres)


def _mean_row(mask: torch.Tensor) -> float:
    rows = torch.arange(mask.shape[-2], dtype=torch.float32).view(-1, 1)
    return float((mask[0, 0] * rows).sum() / mask.sum().clamp_min(1))


def gaussian_blur(masks: torch.Tensor, sigma: float) -> torch.Tensor:
    """Blur every channel of ``(N, C, H, W)`` with a Gaussian of ``sigma`` pixels (edges reflected)."""
    radius = min(math.ceil(3 * sigma), min(masks.shape[-2:]) - 1)
    if sigma <= 0 or radius < 1:
        return masks
    offsets = torch.arange(-radius, radius + 1, dtype=torch.float32)
    kernel = torch.exp(-(offsets**2) / (2 * sigma**2))
    kernel = (kernel / kernel.sum()).to(masks)
    channels = masks.shape[1]
    padded = functional.pad(masks, (radius, radius, 0, 0), mode="reflect")
    masks = functional.conv2d(padded, kernel.view(1, 1, 1, -1).expand(channels, 1, 1, -1), groups=channels)
    padded = functional.pad(masks, (0, 0, radius, radius), mode="reflect")
    return functional.conv2d(padded, kernel.view(1, 1, -1, 1).expand(channels, 1, -1, 1), groups=channels)


def soften(masks: list[torch.Tensor], softness: float = BORDER_SOFTNESS) -> list[torch.Tensor]:
    """Blur the borders of masks by ``softness`` × the long side (σ); shares that summed to 1 still do.

    The blur runs at no more than 512 px (a border this soft has no finer detail) and is brought back up.

    Example:
        >>> left = torch.zeros(1, 1, 64, 64)
        >>> left[..., :32] = 1
        >>> soft = soften([left, 1 - left])
        >>> 0 < soft[0][0, 0, 0, 32].item() < 1, torch.allclose(soft[0] + soft[1], torch.ones(1, 1, 64, 64))
        (True, True)
    """
    height, width = masks[0].shape[-2:]
    scale = min(1.0, 512 / max(height, width))
    small_size = (max(1, round(height * scale)), max(1, round(width * scale)))
    stacked = torch.cat(masks, dim=1)
    small = functional.interpolate(stacked, size=small_size, mode="area") if scale < 1 else stacked
    blurred = gaussian_blur(small, softness * max(small_size))
    if scale < 1:
        blurred = functional.interpolate(blurred, size=(height, width), mode="bilinear", align_corners=False)
    return list(blurred.clamp(0, 1).split(1, dim=1))
