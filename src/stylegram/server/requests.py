"""What a job asks for, checked once, and how a worker turns it into a :func:`stylegram.stylize` call."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from PIL import Image
from pydantic import BaseModel, Field

from stylegram.api import stylize
from stylegram.engines import ProgressEvent
from stylegram.errors import InputError
from stylegram.models.store import shipped_styles, style_painting
from stylegram.server.jobs import open_image_bytes
from stylegram.server.settings import ServiceSettings

#: The optimisation engine sends a preview with every N-th step.
PREVIEW_EVERY = 5


class JobParams(BaseModel):
    """A job's parameters (the form fields of ``POST /v1/jobs`` besides the uploads)."""

    engine: Literal["fast", "gatys"] = Field(
        "fast",
        description="fast: a shipped network, in one pass; gatys: optimisation, any painting, slower and closer to it",
    )
    style: str | None = Field(None, description="a shipped style's name (see /v1/styles), or none with a style upload")
    size: int = Field(512, ge=64, description="long side of the result in pixels")
    strength: float | None = Field(
        None,
        ge=0.0,
        le=1.0,
        description="0: mostly the photo, 1: mostly the painting; default: the engine's own (fast 1, gatys 0.5)",
    )
    color: Literal["none", "luminance", "match"] = Field("none", description="keep the photo's colours")
    seed: int = Field(0, ge=0, le=2**31 - 1)
    iterations: int | None = Field(None, ge=1, description="optimisation steps (gatys); default: its normal quality")


def check_job(params: JobParams, has_style_upload: bool, settings: ServiceSettings) -> None:
    """Refuse what the engines would refuse, before anything is queued.

    Raises:
        InputError: an unknown style, a missing or extra style image, a size or step count over the caps.
    """
    if params.style is not None and params.style not in shipped_styles():
        raise InputError(f"unknown style {params.style!r}; shipped: {', '.join(shipped_styles()) or 'none'}")
    if params.engine == "fast":
        if has_style_upload:
            raise InputError("the fast engine paints shipped styles only; to use your own painting choose gatys")
        if params.style is None:
            raise InputError("choose a shipped style for the fast engine")
    elif has_style_upload == (params.style is not None):
        raise InputError("give either a shipped style name or a style image upload, one of them")
    cap = settings.max_size[params.engine]
    if params.size > cap:
        raise InputError(f"size {params.size} is over this server's limit of {cap} px for the {params.engine} engine")
    if params.iterations is not None and params.iterations > settings.max_iterations:
        raise InputError(f"iterations {params.iterations} is over this server's limit of {settings.max_iterations}")


def stylize_job(
    params: dict[str, Any], inputs: dict[str, bytes], on_progress: Callable[[ProgressEvent], None] | None = None
) -> tuple[Image.Image, dict[str, Any]]:
    """Run a job on this machine: its picture, and what the engine chose (the result's ``run`` record)."""
    job = JobParams(**params)
    pixels = ServiceSettings.max_upload_pixels
    content = open_image_bytes(inputs["content"], "content image", pixels)
    common = {"size": job.size, "seed": job.seed, "color": job.color}
    if job.strength is not None:
        common["strength"] = job.strength
    if job.engine == "fast":
        result = stylize(content, [], engine="fast", model=job.style, on_progress=on_progress, **common)
    else:
        style = open_image_bytes(inputs["style"], "style image", pixels) if "style" in inputs else None
        if style is None:
            if job.style is None:
                raise InputError("the job has neither a style name nor a style image")
            style = style_painting(job.style)
        result = stylize(
            content,
            style,
            engine="gatys",
            iterations=job.iterations,
            preview_every=PREVIEW_EVERY,
            on_progress=on_progress,
            **common,
        )
    return result.image, result.options.get("run", {})
