"""What a job asks for, checked once, and how a worker turns it into a :func:`stylegram.stylize` call."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from PIL import Image
from pydantic import BaseModel, Field, field_validator

from stylegram.engines import ProgressEvent, engine_info, engine_names
from stylegram.engines.base import picture_size, region_kind
from stylegram.errors import InputError
from stylegram.io.image import ImageInput, encode_image
from stylegram.models.store import shipped_styles, style_painting
from stylegram.ops.masks import format_color, label_map_colors, parse_color
from stylegram.server.jobs import open_image_bytes
from stylegram.server.settings import ServiceSettings
from stylegram.transfer import stylize
from stylegram.video import DEFAULT_WARMUP, stylize_video, video_engines

#: The optimisation engine sends a preview with every N-th step.
PREVIEW_EVERY = 5


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


def stylize_job(
    params: dict[str, Any], inputs: dict[str, bytes], on_progress: Callable[[ProgressEvent], None] | None = None
) -> tuple[bytes, dict[str, Any]]:
    """Run a job on this machine: its result file (PNG, or MP4 for a video) and what the engine chose."""
    job = JobParams(**params)
    # The server checked the uploads against its own limits; a worker (maybe on another machine) has only the
    # defaults, which guard the decoding here.
    pixels = ServiceSettings.max_upload_pixels
    if job.kind == "video":
        painting = None  # an engine with trained models: the style's network
        if "style" in inputs:
            painting = open_image_bytes(inputs["style"], "style image", pixels)
        elif engine_info(job.engine).style_input == "paintings":
            painting = style_painting(job.style)
        return _stylize_clip(job, inputs["content"], painting, on_progress)
    content = open_image_bytes(inputs["content"], "content image", pixels)
    common = {"size": job.size, "seed": job.seed, "color": job.color}
    if job.strength is not None:
        common["strength"] = job.strength
    if engine_info(job.engine).previews:
        common["preview_every"] = PREVIEW_EVERY
    if job.iterations is not None:
        common["iterations"] = job.iterations
    if job.region_styles is not None:
        pairs = parse_region_styles(job.region_styles)
        painted = [(color, style) for color, style in pairs if style != KEEP]
        result = stylize(
            content,
            [style_painting(style) for _, style in painted],
            engine=job.engine,
            regions=open_image_bytes(inputs["region_map"], "region map", pixels),
            region_colors=[color for color, _ in painted],
            keep_regions=[color for color, style in pairs if style == KEEP] or None,
            on_progress=on_progress,
            **common,
        )
    elif engine_info(job.engine).style_input == "model":
        result = stylize(content, [], engine=job.engine, model=job.style, on_progress=on_progress, **common)
    else:
        style = open_image_bytes(inputs["style"], "style image", pixels) if "style" in inputs else None
        if style is None:
            if job.style is None:
                raise InputError("the job has neither a style name nor a style image")
            style = style_painting(job.style)
        result = stylize(
            content,
            style,
            engine=job.engine,
            regions=job.regions,
            match_regions=job.match_regions,
            on_progress=on_progress,
            **common,
        )
    picture = encode_image(result.image, "PNG", bit_depth=job.bit_depth, pixels=result.pixels)
    return picture, result.options.get("run", {})


def _stylize_clip(
    job: JobParams, clip: bytes, painting: ImageInput | None, on_progress: Callable[[ProgressEvent], None] | None
) -> tuple[bytes, dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="stylegram-video-") as folder:
        source, output = Path(folder) / "source.video", Path(folder) / "stylized.mp4"
        source.write_bytes(clip)
        frames = None if job.frames_from is None else (job.frames_from, job.frames_to)
        chosen = {"model": job.style} if painting is None else {"style": painting}
        if job.iterations is not None:
            chosen["iterations"] = job.iterations
        result = stylize_video(
            source, output, engine=job.engine, size=job.size, strength=job.strength, color=job.color,
            seed=job.seed, frames=frames, warmup=job.warmup, on_progress=on_progress, **chosen,
        )  # fmt: skip
        run = {"frames": result.frames, "size": list(result.size), "fps": float(result.fps),
               "has_audio": result.has_audio, "precision": result.options["precision"]}  # fmt: skip
        return output.read_bytes(), run
