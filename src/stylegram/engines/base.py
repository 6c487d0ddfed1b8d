"""What every engine shares: the request it takes, the progress events it sends, the result it returns.

Front ends (CLI, Python API, server) build a :class:`Request`, look the engine up with :func:`get_engine` and
call ``engine.run(request, on_progress)``; nothing else about an engine is visible to them.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from PIL import Image

from stylegram.errors import InputError
from stylegram.io.image import ImageInput


@dataclass(frozen=True)
class StyleSpec:
    """One style image and its share of the style target."""

    image: ImageInput
    weight: float = 1.0


@dataclass
class Request:
    """Everything an engine needs for one picture.

    Attributes:
        content: the photo (path or PIL image).
        styles: one or more styles; their weights are normalised to sum to 1.
        size: long side of the output in pixels; None keeps the content's size.
        seed: seeds every random choice, so equal requests give equal images on the same machine.
        device: ``"auto"`` (CUDA when present, else CPU), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
        options: the engine's own options (e.g. :class:`~stylegram.engines.gatys.GatysOptions`);
            None means its defaults.
    """

    content: ImageInput
    styles: list[StyleSpec]
    size: int | None = 512
    seed: int = 0
    device: str = "auto"
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
        options: the request and engine options as plain values, stored in the saved image's metadata.
        best_step: the step whose image is returned (the one with the lowest total loss).
        interrupted: the run was stopped early (Ctrl-C); ``image`` is the best one reached.
    """

    image: Image.Image
    losses: list[dict[str, float]] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    best_step: int = 0
    interrupted: bool = False


class Engine(Protocol):
    """A way of making a stylized picture."""

    name: ClassVar[str]
    options_type: ClassVar[type]

    def run(self, request: Request, on_progress: ProgressCallback | None = None) -> Result: ...


_ENGINES: dict[str, type] = {}


def register(engine: type) -> type:
    """Class decorator adding an engine to the registry under its ``name``."""
    _ENGINES[engine.name] = engine
    return engine


def engine_names() -> list[str]:
    return sorted(_ENGINES)


def get_engine(name: str) -> Engine:
    """A new instance of the engine called ``name``."""
    if name not in _ENGINES:
        raise InputError(f"unknown engine {name!r}; available: {', '.join(engine_names())}")
    return _ENGINES[name]()


def check_weight(name: str, value: float, allow_zero: bool = True) -> float:
    """Refuse NaN, infinite and negative weights (and zero where ``allow_zero`` is False)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(f"{name} must be a number, got {value!r}")
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        kind = "non-negative" if allow_zero else "positive"
        raise InputError(f"{name} must be a finite {kind} number, got {value}")
    return float(value)


def check_request(request: Request) -> None:
    """Checks that hold for every engine: styles present with positive weights, a sane size and seed."""
    if not request.styles:
        raise InputError("at least one style image is needed")
    for index, style in enumerate(request.styles, start=1):
        check_weight(f"weight of style {index}", style.weight, allow_zero=False)
    if request.size is not None and (not isinstance(request.size, int) or request.size < 32):
        raise InputError(f"size must be a whole number of pixels, at least 32, got {request.size!r}")
    if not isinstance(request.seed, int) or request.seed < 0:
        raise InputError(f"seed must be a non-negative whole number, got {request.seed!r}")


def describe_image(source: ImageInput) -> str:
    """How an input image is recorded in metadata: its file name, or its size for an in-memory image."""
    if isinstance(source, Image.Image):
        return f"<image {source.width}x{source.height}>"
    return str(source)


def request_record(request: Request, engine: str) -> dict[str, Any]:
    """The request as plain values (for metadata and JSON)."""
    options = dataclasses.asdict(request.options) if dataclasses.is_dataclass(request.options) else {}
    if "init" in options and isinstance(options["init"], Image.Image):
        options["init"] = describe_image(options["init"])
    return {
        "engine": engine,
        "content": describe_image(request.content),
        "styles": [{"image": describe_image(s.image), "weight": s.weight} for s in request.styles],
        "size": request.size,
        "seed": request.seed,
        "device": request.device,
        **options,
    }
