"""What every engine shares: the request it takes, the progress events it sends, the result it returns.

Front ends (CLI, Python API, server) build a :class:`Request`, look the engine up with
:func:`~stylegram.engines.registry.get_engine` and call ``engine.run(request, on_progress)``; what else they know
of an engine they read from its description (:class:`~stylegram.engines.registry.EngineInfo`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any, ClassVar, Protocol

import torch
from PIL import Image

from stylegram.engines.registry import EngineInfo, option
from stylegram.errors import InputError
from stylegram.io.image import ImageInput, fit_long_side, tensor_to_image
from stylegram.ops.color import COLOR_METHODS
from stylegram.runtime import LAYOUTS, PRECISIONS, available_memory
from stylegram.segmentation import MAX_REGIONS


@dataclass(frozen=True)
class StyleSpec:
    """One style image, its share of the style target, and optionally where it paints.

    Attributes:
        image: the painting.
        weight: without masks, its share of the blended style (weights are normalised to sum to 1); with
            masks, how strongly it paints its region (relative to the heaviest style).
        mask: the region of the photo this style paints (white = the style's); every style needs one or none.
        style_mask: the part of the painting its statistics are taken from (white = used); None: all of it.
    """

    image: ImageInput
    weight: float = 1.0
    mask: ImageInput | None = None
    style_mask: ImageInput | None = None


@dataclass
class Request:
    """Everything an engine needs for one picture.

    Attributes:
        content: the photo (path or PIL image).
        styles: one or more styles; their weights are normalised to sum to 1.
        size: long side of the output in pixels; None keeps the content's size.
        seed: seeds every random choice, so equal requests give equal images on the same machine.
        device: ``"auto"`` (CUDA when present, else CPU), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
        regions: one style per region of the photo, from a label map in flat colours (a path or image),
            ``"auto"`` (k-means on colour and position, see ``stylegram.ops.masks``), ``"semantic"`` or
            ``"semantic:K"`` (K regions by meaning, see ``stylegram.segmentation``) or ``"subject"`` (the main
            subject, then the rest); None: per-style masks, or every style everywhere.
        region_colors: the label-map colour of each style's region (names or ``#rrggbb``); None: the map's
            colours dark to light.
        match_regions: one painting, split into regions too; each region of the photo is painted from the
            painting's region most like it (sky from sky, ground from ground).
        keep_regions: label-map colours where the photo is kept as it is (no style paints there).
        strength: from the photo (0) to the painting (1), as each engine understands it (its description's
            ``strength``, see :func:`strength_of`); None: the engine's default.
        color: keep the photo's colours: ``none``, ``luminance`` (the style on luminance only) or ``match`` (the
            painting recoloured to the photo's colours first).
        precision: ``auto`` (what this machine's probe found fastest), ``fp32`` or ``bf16``.
        threads: the thread count from each step on, ``[[step, count], ...]``, as a run recorded it
            (``run["threads"]``, see :class:`~stylegram.cpu.ThreadSchedule`), to make its picture again bit for
            bit; None fits the count to the load at every step.
        options: the engine's own options (e.g. :class:`~stylegram.engines.gatys.GatysOptions`);
            None means its defaults.
    """

    content: ImageInput
    styles: list[StyleSpec]
    size: int | None = 512
    seed: int = 0
    device: str = "auto"
    regions: ImageInput | None = None
    region_colors: list[str] | None = None
    match_regions: bool = False
    keep_regions: list[str] | None = None
    strength: float | None = None
    color: str = "none"
    precision: str = "auto"
    threads: list[list[int]] | None = None
    options: Any = None


@dataclass
class ProgressEvent:
    """One step of progress, the same type from every engine.

    Attributes:
        step: steps done so far (1-based).
        total: steps planned.
        stage: what the engine is doing, e.g. ``"optimize"``.
        losses: the loss terms at this step, weighted, with their ``total``.
        elapsed_s: seconds since the run started.
        preview: the current image, when the engine was asked for previews at this step.
    """

    step: int
    total: int
    stage: str
    losses: dict[str, float]
    elapsed_s: float
    preview: Image.Image | None = None


ProgressCallback = Callable[[ProgressEvent], None]


@dataclass
class Result:
    """What an engine returns: the picture and how it came about.

    Attributes:
        image: the stylized picture.
        losses: the loss terms at every step, in order.
        timings: seconds spent per phase (``setup``, ``optimize``, ``total``) and per step.
        options: the request and engine options as asked, as plain values, and under ``run`` what the engine
            chose (sizes, steps, precision…); stored in the saved image's metadata, so the picture can be
            remade (:func:`stylegram.api.remake`).
        best_step: the step whose image is returned (the one with the lowest total loss).
        interrupted: the run was stopped early (Ctrl-C); ``image`` is the best one reached.
        pixels: ``image`` before it was rounded to 8 bits, ``(1, 3, H, W)`` float32 in 0..1 on the CPU (what a
            16-bit output is written from); None where the picture had no more precision than ``image``.
        regions: the regions the styles painted, as a label map at the picture's size (one colour per style,
            in style order, from ``stylegram.engines.regions.REGION_PALETTE``; black where the photo was kept);
            None without regions.
    """

    image: Image.Image
    losses: list[dict[str, float]] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    best_step: int = 0
    interrupted: bool = False
    pixels: torch.Tensor | None = None
    regions: Image.Image | None = None

    @classmethod
    def of(cls, picture: torch.Tensor, **fields: Any) -> Result:
        """The result whose picture is ``picture`` (``(1, 3, H, W)`` in 0..1; values outside are clamped)."""
        pixels = picture.detach().float().clamp(0, 1).cpu()
        return cls(image=tensor_to_image(pixels), pixels=pixels, **fields)


class Engine(Protocol):
    """A way of making a stylized picture, described by its ``info`` (see ``stylegram.engines.registry``)."""

    info: ClassVar[EngineInfo]

    def run(self, request: Request, on_progress: ProgressCallback | None = None) -> Result: ...


# The options several engines share, each defined here once (a factory per field: a dataclass field is not
# shared between classes).


def layout_option() -> Any:
    return option("auto", "memory layout of the convolutions; auto: what this machine runs fastest", choices=LAYOUTS)


def tile_option() -> Any:
    return option(
        None,
        "pass pictures over N px a side in overlapping tiles (default: only where a whole pass would not fit in "
        "memory)",
        metavar="N",
    )


def check_weight(name: str, value: float, allow_zero: bool = True) -> float:
    """Refuse NaN, infinite and negative weights (and zero where ``allow_zero`` is False)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(f"{name} must be a number, got {value!r}")
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        kind = "non-negative" if allow_zero else "positive"
        raise InputError(f"{name} must be a finite {kind} number, got {value}")
    return float(value)


def check_fraction(name: str, value: float) -> float:
    """Refuse what :func:`check_weight` refuses, and values above 1: a knob from 0 to 1."""
    check_weight(name, value)
    if value > 1:
        raise InputError(f"{name} must be between 0 and 1, got {value}")
    return float(value)


def check_pixels(name: str, value: object, smallest: int) -> None:
    """Refuse a size in pixels that is not a whole number of at least ``smallest`` (None passes: "automatic")."""
    if value is not None and (not isinstance(value, int) or value < smallest):
        raise InputError(f"{name} must be a whole number of pixels, at least {smallest}, got {value!r}")


#: The shortest side, in pixels, of any picture an engine paints or compares: VGG19's deepest layers see it
#: through four poolings, and a side of 2 or 1 px leaves them nothing to see.
MIN_SIDE = 16
#: Bytes per pixel of the whole-picture buffers every engine keeps however it tiles its work (the photo and
#: the picture as 8-bit images and as float32 tensors, the blend of the tiles): a bound on what a size can cost.
PICTURE_BYTES_PER_PIXEL = 32


def picture_size(
    image_size: tuple[int, int], long_side: int | None, what: str, device: torch.device | None = None
) -> tuple[int, int]:
    """The ``(width, height)`` an image of ``image_size`` is worked at, scaled to ``long_side`` (None: as it
    is), checked before any pixel is touched: both sides at least :data:`MIN_SIDE`, and the picture's own buffers
    within the memory free on ``device`` (the CPU when None).

    Raises:
        InputError: too thin at that size, or too large for this machine.

    Example:
        >>> picture_size((1024, 768), 512, "content image")
        (512, 384)
        >>> picture_size((4000, 2), 512, "content image")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        stylegram.errors.InputError: content image is 4000x2: at 512 px its sides would be 512x1; every side needs ...
    """
    size = fit_long_side(image_size, long_side)
    if min(size) < MIN_SIDE:
        scaled = f": at {long_side} px its sides would be {size[0]}x{size[1]}" if size != tuple(image_size) else ""
        raise InputError(f"{what} is {image_size[0]}x{image_size[1]}{scaled}; every side needs at least {MIN_SIDE} px")
    needed, free = size[0] * size[1] * PICTURE_BYTES_PER_PIXEL, available_memory(device or torch.device("cpu"))
    if needed > free:
        raise InputError(
            f"a {size[0]}x{size[1]} picture needs about {needed / 2**30:.1f} GiB for itself alone, and "
            f"{free / 2**30:.1f} GiB is free here; ask for a smaller size"
        )
    return size


def check_request(request: Request, styles_required: bool = True) -> None:
    """Checks that hold for every engine: styles present (where the engine takes style images) with positive
    weights, a sane size and seed, consistent regions."""
    if styles_required and not request.styles:
        raise InputError("at least one style image is needed")
    for index, style in enumerate(request.styles, start=1):
        check_weight(f"weight of style {index}", style.weight, allow_zero=False)
    check_pixels("size", request.size, 32)
    check_controls(request.strength, request.color, request.precision)
    if not isinstance(request.seed, int) or request.seed < 0:
        raise InputError(f"seed must be a non-negative whole number, got {request.seed!r}")
    if request.threads is not None and not _is_thread_schedule(request.threads):
        raise InputError(f"threads must be [[step, count], ...] with whole numbers from 1, got {request.threads!r}")
    masked = sum(style.mask is not None for style in request.styles)
    if masked and request.regions is not None:
        raise InputError("give either a mask per style or a region map, not both")
    if 0 < masked < len(request.styles):
        raise InputError(f"{masked} of {len(request.styles)} styles have a mask; give every style a mask, or none")
    kind, count = region_kind(request.regions)
    if kind != "map":
        for name in ("region_colors", "keep_regions"):
            if getattr(request, name) is not None:
                raise InputError(f"{name.replace('_', ' ')} name the colours of a region map; give the map too")
    if request.match_regions:
        if len(request.styles) != 1:
            raise InputError(f"matched regions take one painting, split into regions; got {len(request.styles)}")
        if kind is None or masked:
            raise InputError("matched regions need the photo's regions: a region map, auto, semantic or subject")
    elif kind in ("auto", "semantic", "subject") and len(request.styles) < 2:
        raise InputError(f"{kind} regions need two or more styles, one per region, or matched regions")
    if count is not None and not request.match_regions and count != len(request.styles):
        raise InputError(
            f"{request.regions} makes {count} regions for {len(request.styles)} styles; give one per region"
        )


def _is_thread_schedule(value: Any) -> bool:
    return (
        isinstance(value, list)
        and len(value) > 0
        and all(
            isinstance(pair, list | tuple)
            and len(pair) == 2
            and all(isinstance(number, int) and not isinstance(number, bool) and number >= 1 for number in pair)
            for pair in value
        )
    )


def check_controls(strength: float | None, color: str, precision: str) -> None:
    """Refuse a strength outside 0..1, an unknown colour method or precision: the controls every engine shares."""
    if strength is not None:
        check_fraction("strength", strength)
    if color not in COLOR_METHODS:
        raise InputError(f"unknown colour method {color!r}; expected one of {', '.join(COLOR_METHODS)}")
    if precision not in PRECISIONS:
        raise InputError(f"unknown precision {precision!r}; expected one of {', '.join(PRECISIONS)}")


def strength_of(request: Request, info: EngineInfo) -> float:
    """The strength ``request`` is painted at by the engine ``info`` describes: as asked, else its default."""
    return info.default_strength if request.strength is None else request.strength


#: The names of the automatic ways of finding regions (anything else is a label map).
AUTOMATIC_REGIONS = ("auto", "semantic", "subject")


def region_kind(regions: ImageInput | None) -> tuple[str | None, int | None]:
    """How a request's ``regions`` are found, and how many the text names (None: one per style).

    Raises:
        InputError: ``semantic:K`` with a K that is not a whole number from 2 to :data:`MAX_REGIONS`.

    Example:
        >>> region_kind("semantic:3"), region_kind("subject"), region_kind("map.png"), region_kind(None)
        (('semantic', 3), ('subject', 2), ('map', None), (None, None))
    """
    if regions is None:
        return None, None
    if not isinstance(regions, str) or (regions not in AUTOMATIC_REGIONS and not regions.startswith("semantic:")):
        return "map", None
    if regions == "subject":
        return "subject", 2
    name, _, number = regions.partition(":")
    if not number:
        return name, None
    if not number.isdigit() or not 2 <= int(number) <= MAX_REGIONS:
        raise InputError(f"the number of regions must be 2 to {MAX_REGIONS}, got {number!r} in {regions!r}")
    return name, int(number)


#: How an image given as a PIL object rather than a file is recorded.
IN_MEMORY_PREFIX = "<image "


def describe_image(source: ImageInput, absolute: bool = False) -> str:
    """How an input image is named in reports and metadata: its path (made ``absolute``, so the picture can
    be remade from anywhere), or its size for an in-memory image, which cannot."""
    if isinstance(source, Image.Image):
        return f"{IN_MEMORY_PREFIX}{source.width}x{source.height}>"
    return str(Path(source).absolute()) if absolute and Path(source).exists() else str(source)


def _style_record(style: StyleSpec) -> dict[str, Any]:
    record = {"image": describe_image(style.image, absolute=True), "weight": style.weight}
    for name in ("mask", "style_mask"):
        if getattr(style, name) is not None:
            record[name] = describe_image(getattr(style, name), absolute=True)
    return record


def request_record(request: Request, engine: str) -> dict[str, Any]:
    """The request as plain values (for metadata and JSON)."""
    options = dataclasses.asdict(request.options) if dataclasses.is_dataclass(request.options) else {}
    for name, value in options.items():
        # Options naming files (an init image, weights) are recorded like the input images.
        if isinstance(value, Image.Image) or (isinstance(value, str | PathLike) and Path(value).is_file()):
            options[name] = describe_image(value, absolute=True)
    return {
        "engine": engine,
        "content": describe_image(request.content, absolute=True),
        "styles": [_style_record(style) for style in request.styles],
        "size": request.size,
        "seed": request.seed,
        "device": request.device,
        "strength": request.strength,
        "color": request.color,
        "precision": request.precision,
        **({"regions": describe_image(request.regions, absolute=True)} if request.regions is not None else {}),
        **({"region_colors": request.region_colors} if request.region_colors is not None else {}),
        **({"match_regions": True} if request.match_regions else {}),
        **({"keep_regions": request.keep_regions} if request.keep_regions is not None else {}),
        **options,
    }
