"""Making one picture: a request built from plain arguments and checked, run on an engine, saved, remade.

The public surface is :mod:`stylegram.api`, which gathers these with video, batches, training, evaluation and
export.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from os import PathLike
from pathlib import Path
from typing import Any

from PIL import Image

from stylegram.engines import ProgressCallback, Request, Result, StyleSpec, engine_info, get_engine
from stylegram.engines.base import IN_MEMORY_PREFIX, region_kind
from stylegram.errors import InputError
from stylegram.io.image import (
    ImageInput,
    image_to_tensor,
    load_alpha,
    load_image,
    read_metadata,
    resize,
    save_image,
    tensor_to_image,
)
from stylegram.ops import color

StyleInput = ImageInput | StyleSpec | tuple[ImageInput, float]
#: The engine a request goes to when none is named: optimisation, the closest to the painting.
DEFAULT_ENGINE = "gatys"


def _style_specs(style: StyleInput | Sequence[StyleInput]) -> list[StyleSpec]:
    items = style if isinstance(style, list) else [style]
    specs = []
    for item in items:
        if isinstance(item, StyleSpec):
            specs.append(item)
        elif isinstance(item, tuple) and len(item) == 2:
            specs.append(StyleSpec(image=item[0], weight=item[1]))
        else:
            specs.append(StyleSpec(image=item))
    return specs


def engine_options(engine: str, **options: Any) -> Any:
    """Build an engine's options object from keyword arguments, refusing names it does not know."""
    known = engine_info(engine).option_names()
    unknown = sorted(set(options) - known)
    if unknown:
        raise InputError(f"unknown option {unknown[0]!r} for engine {engine}; known: {', '.join(sorted(known))}")
    return engine_info(engine).options(**options)


def stylize(
    content: ImageInput,
    style: StyleInput | Sequence[StyleInput],
    *,
    on_progress: ProgressCallback | None = None,
    **arguments: Any,
) -> Result:
    """Repaint ``content`` in the style of ``style``.

    Args:
        content: the photo, as a path or a PIL image.
        style: the painting(s), as for :func:`build_request`.
        on_progress: called with a :class:`~stylegram.engines.ProgressEvent` at every step.
        **arguments: :func:`build_request`'s (``engine``, ``size``, ``seed``, masks and regions) and the engine's
            options, e.g. for ``gatys`` ``iterations``, ``style_weight``, ``optimizer``.

    Returns:
        A :class:`~stylegram.engines.Result` whose ``image`` is a PIL image.

    Raises:
        InputError: a bad image, option or value, before any work is done.
    """
    request = build_request(content, style, **arguments)
    return run_request(request, arguments.get("engine", DEFAULT_ENGINE), on_progress)


def run_request(request: Request, engine: str, on_progress: ProgressCallback | None = None) -> Result:
    """Run ``request`` on ``engine``. A photo with transparency gets its alpha back on the picture (at the
    picture's size): its transparent pixels, filled from the visible ones when it was read, are not painted."""
    result = get_engine(engine).run(request, on_progress)
    alpha = load_alpha(request.content)
    if alpha is None:
        return result
    picture = result.image.convert("RGB")
    picture.putalpha(alpha if alpha.size == picture.size else alpha.resize(picture.size, Image.Resampling.LANCZOS))
    return dataclasses.replace(result, image=picture)


def save_result(
    result: Result,
    path: str | PathLike,
    *,
    quality: int | None = None,
    exif: bytes | None = None,
    bit_depth: int = 8,
) -> Path:
    """Write ``result``'s picture atomically with its options as metadata (so :func:`remake` can make it again):
    JPEG and WebP at ``quality``, with the ``exif`` block (:func:`~stylegram.io.image.exif_for`), at
    ``bit_depth`` 8 or 16 (PNG and TIFF; from ``result.pixels``, the picture before rounding)."""
    return save_image(
        result.image,
        path,
        metadata=result.options,
        quality=quality,
        exif=exif,
        bit_depth=bit_depth,
        pixels=result.pixels,
    )


def build_request(
    content: ImageInput,
    style: StyleInput | Sequence[StyleInput],
    *,
    engine: str = DEFAULT_ENGINE,
    size: int | None = 512,
    seed: int = 0,
    device: str = "auto",
    masks: Sequence[ImageInput] | None = None,
    style_masks: Sequence[ImageInput | None] | None = None,
    regions: ImageInput | None = None,
    region_colors: Sequence[str] | None = None,
    match_regions: bool = False,
    keep_regions: Sequence[str] | None = None,
    strength: float | None = None,
    color: str = "none",
    precision: str = "auto",
    threads: list[list[int]] | None = None,
    **options: Any,
) -> Request:
    """The request to repaint ``content`` in the style of ``style``, its options checked.

    Args:
        content: the photo, as a path or a PIL image.
        style: a painting (path or PIL image), or a list of them, each optionally ``(image, weight)`` or a
            :class:`~stylegram.engines.StyleSpec`; several styles are blended by weight.
        engine: which engine makes the picture (see ``stylegram engines``).
        size: long side of the output in pixels (None keeps the content's size).
        seed: makes the run repeatable.
        device: ``auto``, ``cpu`` or ``cuda``.
        masks: one mask image per style, the region of the photo it paints (white = the style's).
        style_masks: one per style (None for all of it), the part of the painting its statistics come from.
        regions: instead of ``masks``, one label map in flat colours (a region per style), ``"auto"`` (colour
            and position), ``"semantic"`` / ``"semantic:K"`` (regions by meaning) or ``"subject"``.
        region_colors: the label-map colour of each style's region (default: the map's colours dark to light).
        match_regions: one painting, split into regions; each photo region is painted from its most alike.
        keep_regions: label-map colours where the photo is kept as it is.
        strength: 0 (the photo) … 1 (the painting), as the engine understands it (``stylegram engines``); None:
            the engine's default.
        color: ``none``, ``luminance`` or ``match``: keep the photo's colours.
        precision: ``auto``, ``fp32`` or ``bf16``.
        threads: the thread counts a recorded run used (``run["threads"]``), to make its picture again bit for
            bit; None fits the count to the load.
        **options: the engine's options, e.g. for ``gatys`` ``iterations``, ``style_weight``, ``optimizer``
            (see :class:`~stylegram.engines.gatys.GatysOptions`).

    Raises:
        InputError: a bad option or value.
    """
    specs = _style_specs(style)
    for name, values in (("mask", masks), ("style_mask", style_masks)):
        if values is not None:
            if len(values) != len(specs):
                what = name.replace("_", " ")
                raise InputError(f"{len(values)} {what}s given for {len(specs)} styles; give one per style")
            specs = [dataclasses.replace(spec, **{name: value}) for spec, value in zip(specs, values, strict=True)]
    return Request(
        content=content,
        styles=specs,
        size=size,
        seed=seed,
        device=device,
        regions=regions,
        region_colors=list(region_colors) if region_colors is not None else None,
        match_regions=match_regions,
        keep_regions=list(keep_regions) if keep_regions is not None else None,
        strength=strength,
        color=color,
        precision=precision,
        threads=threads,
        options=engine_options(engine, **options),
    )


def read_recipe(picture: str | PathLike) -> dict[str, Any]:
    """The options a picture was made with, from its metadata, checked as untrusted input: a PNG from
    anywhere may carry any text under the ``stylegram`` key.

    Raises:
        InputError: not a picture, no stylegram metadata, metadata that is not a JSON object, lacks what a run
            needs or names an unknown engine.
    """
    source = str(picture)
    load_image(picture, what="picture")  # one-line errors for a missing or broken file
    try:
        record = read_metadata(picture)
    except ValueError:
        raise InputError(f"{source}'s stylegram metadata is not JSON; it cannot be remade") from None
    if not record:
        raise InputError(f"{source} has no stylegram metadata (only PNGs written by stylegram carry it)")
    if not isinstance(record, dict):
        raise InputError(f"{source}'s stylegram metadata is not a record of options; it cannot be remade")
    missing = [name for name in ("engine", "content", "styles", "size", "seed", "device") if name not in record]
    if missing:
        raise InputError(f"{source}'s stylegram metadata lacks {', '.join(missing)}; it cannot be remade")
    if not isinstance(record["engine"], str):
        raise InputError(f"{source}'s stylegram metadata names no engine; it cannot be remade")
    engine_info(record["engine"])  # an unknown engine is refused by name
    styles = record["styles"]
    if not isinstance(record["content"], str) or not isinstance(styles, list):
        raise InputError(f"{source}'s stylegram metadata has no content path or style list; it cannot be remade")
    for style in styles:
        if not isinstance(style, dict) or not all(isinstance(name, str) for name in _image_fields(style)):
            raise InputError(f"{source}'s stylegram metadata has a style that is not a record of files")
    return record


def _image_fields(style: dict[str, Any]) -> list[Any]:
    return [value for key, value in style.items() if key != "weight"]


def remake_inputs(picture: str | PathLike) -> list[str]:
    """The files :func:`remake` of ``picture`` would read (as recorded; some may be gone)."""
    return _recorded_files(read_recipe(picture))


def _recorded_files(record: dict[str, Any]) -> list[str]:
    regions = [record["regions"]] if isinstance(record.get("regions"), str) else []
    return [record["content"], *(name for style in record["styles"] for name in _image_fields(style)), *regions]


def remake(picture: str | PathLike, *, on_progress: ProgressCallback | None = None) -> Result:
    """Make a saved picture again from the options stored in its metadata.

    The run uses the recorded inputs, options and seed, and the precision, layout and thread counts the original
    run chose, so on the same machine the result is the same image, bit for bit, however busy the machine is.

    Args:
        picture: a PNG written by ``stylegram transfer`` (or saved with ``save_image(..., metadata=result.options)``).
        on_progress: as for :func:`stylize`.

    Raises:
        InputError: the picture has no stylegram metadata (or metadata that cannot be a run's), or was made from
            in-memory images or files that are gone.
    """
    source = str(picture)
    record = dict(read_recipe(picture))
    run = record.pop("run", {})
    run = run if isinstance(run, dict) else {}
    engine = record.pop("engine")
    for name in _recorded_files(record):
        if name.startswith(IN_MEMORY_PREFIX):
            raise InputError(f"{source} was made from an in-memory image, which cannot be read again")
        if region_kind(name)[0] == "map" and not Path(name).is_file():
            raise InputError(f"{source} was made from {name}, which is no longer there")
    options = {name: record.pop(name) for name in list(record) if name in engine_info(engine).option_names()}
    # What the original run chose by probing the machine (precision, layout, tiles for memory) or fitted to its
    # load (thread counts) is fixed, not re-chosen.
    if "layout" in run and "layout" in engine_info(engine).option_names():
        options["layout"] = run["layout"]
    tile_sizes = [side for side in run.get("tile_sizes", []) if isinstance(side, int)]
    if tile_sizes and options.get("tile_size") is None:
        options["tile_size"] = min(tile_sizes)
    try:
        styles = [StyleSpec(**style) for style in record["styles"]]
    except TypeError:
        raise InputError(f"{source}'s stylegram metadata has a style with unknown fields") from None
    return stylize(
        record["content"],
        styles,
        engine=engine,
        size=record["size"],
        seed=record["seed"],
        device=record["device"],
        regions=record.get("regions"),
        region_colors=record.get("region_colors"),
        match_regions=record.get("match_regions", False),
        keep_regions=record.get("keep_regions"),
        strength=record.get("strength"),
        color=record.get("color", "none"),
        precision=run.get("precision", record.get("precision", "auto")),
        threads=run.get("threads"),
        on_progress=on_progress,
        **options,
    )


def preserve_colors(picture: ImageInput, content: ImageInput, method: str = "luminance") -> Image.Image:
    """Give a stylized picture (from any engine) the colours of the photo it was made from.

    Args:
        picture: the stylized picture (path or PIL image).
        content: the photo (path or PIL image); resized to the picture's size.
        method: ``luminance`` (the picture's luminance with the photo's chroma) or ``match`` (the picture's
            colours mapped to the photo's colour mean and covariance).

    Example:
        >>> from PIL import Image
        >>> grey = Image.new("RGB", (4, 4), (76, 76, 76))
        >>> preserve_colors(grey, Image.new("RGB", (8, 8), (255, 0, 0))).getpixel((0, 0))
        (255, 0, 0)
    """
    if method not in color.COLOR_METHODS[1:]:
        raise InputError(f"unknown colour method {method!r}; expected luminance or match")
    stylized = load_image(picture, what="picture")
    photo = resize(load_image(content, what="content image"), stylized.size)
    return tensor_to_image(color.preserve_colors(image_to_tensor(stylized), image_to_tensor(photo), method))
