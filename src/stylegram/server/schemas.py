"""What a job asks for (the form fields of ``POST /v1/jobs``), checked once, before anything is queued."""

from __future__ import annotations

from typing import Literal

from PIL import Image
from pydantic import BaseModel, Field, field_validator

from stylegram.engines import engine_info, engine_names
from stylegram.engines.base import picture_size, region_kind
from stylegram.errors import InputError
from stylegram.models.store import shipped_styles
from stylegram.ops.masks import format_color, label_map_colors, parse_color
from stylegram.server.settings import ServiceSettings
from stylegram.video import DEFAULT_WARMUP, video_engines


class JobParams(BaseModel):
    """A job's parameters (the form fields of ``POST /v1/jobs`` besides the uploads)."""

    engine: str = Field(
        "fast",
        description="the engine (GET /v1/engines describes each: what it paints from, its size cap, whether it makes "
        "videos and regions)",
        json_schema_extra=lambda schema: schema.update(enum=engine_names()),
    )
    style: str | None = Field(None, description="a shipped style's name (see /v1/styles), or none with a style upload")
    size: int = Field(512, ge=64, description="long side of the result in pixels")
    strength: float | None = Field(
        None,
        ge=0.0,
        le=1.0,
        description="0: mostly the photo, 1: mostly the painting; default: the engine's own "
        "(fast 1, gatys 0.5, adain 1, wct 0.8, efdm 1, photo 1)",
    )
    bit_depth: int = Field(8, ge=8, le=16, multiple_of=8, description="bits a channel of the result PNG: 8 or 16")
    color: Literal["none", "luminance", "match"] = Field("none", description="keep the photo's colours")
    seed: int = Field(0, ge=0, le=2**31 - 1)
    iterations: int | None = Field(None, ge=1, description="optimisation steps (gatys); default: its normal quality")
    kind: Literal["image", "video"] = Field(
        "image", description="set by the server from the upload: a photo makes a picture, a clip a video"
    )
    frames_from: int | None = Field(None, ge=0, description="a video: the first frame to make (a chunk)")
    frames_to: int | None = Field(None, ge=1, description="a video: the frame after the last to make")
    warmup: int = Field(DEFAULT_WARMUP, ge=0, le=100, description="a chunk: frames blended in before it, unwritten")
    regions: str | None = Field(
        None,
        description="with one painting and match_regions: how the photo is split, auto, semantic, semantic:K or "
        "subject; with a region_map upload leave it empty",
    )
    match_regions: bool = Field(False, description="paint each photo region from the painting's most alike region")
    region_styles: str | None = Field(
        None,
        description="with a region_map upload: what paints each of its colours, as #rrggbb=STYLE pairs joined "
        "by commas, STYLE a shipped style's name or keep (the photo as it is), e.g. #e6194b=starry_night,#3cb44b=keep",
    )

    @field_validator("engine")
    @classmethod
    def _known_engine(cls, name: str) -> str:
        if name not in engine_names():
            raise ValueError(f"unknown engine {name!r}; available: {', '.join(engine_names())}")
        return name


#: What ``region_styles`` names to keep a region of the photo as it is.
KEEP = "keep"


def parse_region_styles(text: str) -> list[tuple[str, str]]:
    """``region_styles`` as ``(colour, style)`` pairs, colours as ``#rrggbb``.

    Raises:
        InputError: a pair without ``=``, an unknown colour or style, a colour named twice, nothing painted.

    Example:
        >>> parse_region_styles("red=keep")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        stylegram.errors.InputError: region_styles keeps every region: give at least one a style
    """
    pairs = []
    for item in text.split(","):
        color, sign, style = item.strip().partition("=")
        if not sign:
            raise InputError(f"region_styles takes #rrggbb=STYLE pairs, got {item.strip()!r}")
        if style != KEEP and style not in shipped_styles():
            raise InputError(f"unknown style {style!r} in region_styles; shipped: {', '.join(shipped_styles())}")
        pairs.append((format_color(parse_color(color)), style))
    colors = [color for color, _ in pairs]
    if len(set(colors)) != len(colors):
        raise InputError("region_styles names a colour twice")
    if all(style == KEEP for _, style in pairs):
        raise InputError("region_styles keeps every region: give at least one a style")
    return pairs


def check_job(
    params: JobParams, has_style_upload: bool, settings: ServiceSettings, label_map: Image.Image | None = None
) -> None:
    """Refuse what the engines would refuse, before anything is queued.

    Raises:
        InputError: an unknown style, a missing or extra style image, a size or step count over the caps, a
            video for another engine than the fast one.
    """
    info = engine_info(params.engine)
    if params.kind == "video" and info.video is None:
        raise InputError(f"videos are made by the engines {', '.join(video_engines())}, not {params.engine}")
    chunk = (params.frames_from, params.frames_to)
    if chunk != (None, None) and (params.kind != "video" or None in chunk or chunk[0] >= chunk[1]):
        raise InputError("frames_from and frames_to, both, the first below the second, are for videos only")
    if params.kind == "video" and params.bit_depth != 8:
        raise InputError("videos are made at 8 bits a channel; choose bit_depth 8")
    if params.style is not None and params.style not in shipped_styles():
        raise InputError(f"unknown style {params.style!r}; shipped: {', '.join(shipped_styles()) or 'none'}")
    if params.region_styles is not None:
        if has_style_upload or params.style is not None:
            raise InputError("with region_styles each region names its style; give no style or style image")
    elif info.style_input == "model":
        if has_style_upload:
            others = ", ".join(engine_names(style_input="paintings"))
            raise InputError(
                f"the {params.engine} engine paints shipped styles only; for your own painting choose {others}"
            )
        if params.style is None:
            raise InputError(f"choose a shipped style for the {params.engine} engine")
    elif has_style_upload == (params.style is not None):
        raise InputError("give either a shipped style name or a style image upload, one of them")
    cap = settings.max_size[params.engine]
    what = f"{params.engine} video" if params.kind == "video" else params.engine
    if params.kind == "video":
        cap = min(cap, settings.max_size["video"])
    if params.size > cap:
        raise InputError(f"size {params.size} is over this server's limit of {cap} px for the {what} jobs")
    if params.iterations is not None and "iterations" not in info.option_names():
        raise InputError(f"iterations are optimisation steps; the {params.engine} engine paints in one pass")
    if params.iterations is not None and params.iterations > settings.max_iterations:
        raise InputError(f"iterations {params.iterations} is over this server's limit of {settings.max_iterations}")
    check_regions(params, label_map)


def check_regions(params: JobParams, label_map: Image.Image | None) -> None:
    """Refuse region parameters the engines would refuse, and a label map whose colours are not the ones named."""
    if params.regions is None and label_map is None and params.region_styles is None:
        if params.match_regions:
            raise InputError("match_regions needs regions (auto, semantic, semantic:K or subject)")
        return
    if not engine_info(params.engine).regions or params.kind == "video":
        painters = ", ".join(engine_names(regions=True))
        raise InputError(f"regions are painted by the engines {painters}, on pictures")
    if label_map is None:
        if params.region_styles is not None:
            raise InputError("region_styles names the colours of a region_map upload; upload the map")
        kind, _ = region_kind(params.regions)
        if kind == "map":
            raise InputError(f"unknown regions {params.regions!r}; expected auto, semantic, semantic:K or subject")
        if not params.match_regions:
            raise InputError("automatic regions paint one painting region to region here; set match_regions")
        return
    if params.regions is not None or params.region_styles is None:
        raise InputError("a region_map upload goes with region_styles (what paints each colour), not regions")
    named = [color for color, _ in parse_region_styles(params.region_styles)]
    found = [format_color(color) for color in label_map_colors(label_map)]
    for color in named:
        if color not in found:
            raise InputError(f"region colour {color} is not in the region map ({', '.join(found)})")
    for color in found:
        if color not in named:
            raise InputError(
                f"region map colour {color} has no style in region_styles; map colours: {', '.join(found)}"
            )


def check_style_size(params: JobParams, size: tuple[int, int], what: str) -> None:
    """Refuse, before anything is queued, a style upload the engine would refuse for its size."""
    picture_size(size, None, what)
    smallest = engine_info(params.engine).min_style_side
    if min(size) < smallest:
        raise InputError(
            f"the {what} is {size[0]}x{size[1]}; the {params.engine} engine needs at least {smallest} px a side"
        )
