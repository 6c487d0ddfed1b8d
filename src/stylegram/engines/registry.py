"""The engines, each described once: what it paints from, what it can do, its options with their help.

Every front end reads these descriptions and nothing else about an engine: the CLI's ``--engine`` choices and
flags, the server's checks and ``GET /v1/engines``, the web page's buttons and caps, the video painters. Adding
an engine is one file: a class with an :class:`EngineInfo` under ``info``, decorated with :func:`register`.

Example:
    >>> from dataclasses import dataclass
    >>> @dataclass
    ... class ToyOptions:
    ...     grain: float = option(0.5, "how coarse the toy's grain is")
    >>> @register
    ... class ToyEngine:
    ...     info = EngineInfo("toy", "Toy", "a toy for the docs", ToyOptions)
    ...     def run(self, request, on_progress=None): ...
    >>> "toy" in engine_names(), option_help(engine_info("toy").options, "grain")
    (True, "how coarse the toy's grain is")
    >>> unregister("toy")
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from stylegram.errors import InputError

#: What an engine paints from: style images (paintings, or for ``photo`` reference photos), or a trained model.
StyleInput = Literal["paintings", "model"]
#: How an engine makes a clip: each frame in one pass, blended with the previous one warped along the motion
#: (``blend``); each frame optimised from the previous one, warped, with a temporal loss (``optimise``).
VideoMode = Literal["blend", "optimise"]


@dataclass(frozen=True)
class EngineInfo:
    """What an engine is, for every front end.

    Attributes:
        name: what requests call it (``--engine NAME``, ``engine=NAME``).
        title: its name for people (the web page's button).
        summary: what it does, in a few words (help texts, ``stylegram engines``, the page).
        options: its options dataclass; each field's help lives in its metadata (:func:`option`).
        style_input: what it paints from (:data:`StyleInput`).
        style_noun: what its style images are called in messages.
        min_style_side: the shortest side a style image may have, in pixels.
        regions: it paints styles by regions (masks, label maps, automatic regions).
        previews: it can attach the picture so far to its progress events (``preview_every``).
        video: how it makes clips (:data:`VideoMode`); None: it makes pictures only.
        live: it is fast enough for a live camera stream.
        max_size: the largest long side the service makes with it by default (its time and memory per picture).
        strength_meaning: what ``strength`` (0: the photo … 1: the painting) sets in it.
        default_strength: the strength it paints at when none is asked.
        order: where front ends list it, lowest first (the page's first button is its default).
    """

    name: str
    title: str
    summary: str
    options: type
    style_input: StyleInput = "paintings"
    style_noun: str = "style image"
    min_style_side: int = 16
    regions: bool = False
    previews: bool = False
    video: VideoMode | None = None
    live: bool = False
    max_size: int = 4096
    strength_meaning: str = "a blend of its picture (1) with the photo (0)"
    default_strength: float = 1.0
    order: int = 50

    def option_names(self) -> set[str]:
        """The names of its options."""
        return {item.name for item in dataclasses.fields(self.options)}

    def public(self) -> dict[str, Any]:
        """The description as plain values (``GET /v1/engines``), options as their names and help."""
        record = {name: value for name, value in dataclasses.asdict(self).items() if name != "options"}
        record["options"] = {
            item.name: option_help(self.options, item.name) for item in dataclasses.fields(self.options)
        }
        return record


_ENGINES: dict[str, type] = {}


def register(engine: type) -> type:
    """Class decorator adding an engine to the registry under ``engine.info.name``."""
    _ENGINES[engine.info.name] = engine
    return engine


def unregister(name: str) -> None:
    """Take an engine out of the registry again (tests and examples that register toys)."""
    _ENGINES.pop(name, None)


def engine_names(**features: object) -> list[str]:
    """The engines' names, sorted; with ``features``, those whose description has these values.

    Example:
        >>> engine_names(style_input="model")
        ['fast']
    """
    return sorted(info.name for info in engine_infos(**features))


def engine_infos(**features: object) -> list[EngineInfo]:
    """The engines' descriptions by their ``order``, filtered as :func:`engine_names`."""
    infos = sorted((engine.info for engine in _ENGINES.values()), key=lambda info: info.order)
    return [info for info in infos if all(getattr(info, name) == value for name, value in features.items())]


def engine_info(name: str) -> EngineInfo:
    """The description of the engine called ``name``.

    Raises:
        InputError: no engine has that name.
    """
    return _engine_class(name).info


def get_engine(name: str) -> Any:
    """A new instance of the engine called ``name``."""
    return _engine_class(name)()


def _engine_class(name: str) -> type:
    if name not in _ENGINES:
        raise InputError(f"unknown engine {name!r}; available: {', '.join(engine_names())}")
    return _ENGINES[name]


def option(
    default: Any = dataclasses.MISSING,
    help: str = "",
    *,
    factory: Callable[[], Any] | None = None,
    flag: str | None = "",
    parse: Callable[[str], Any] | None = None,
    choices: tuple[str, ...] | None = None,
    metavar: str | None = None,
) -> Any:
    """A field of an engine's options dataclass, with what a front end needs to offer it.

    Args:
        default: its value when not given (or ``factory``, for a mutable one).
        help: one line saying what it does, for ``--help``, ``GET /v1/engines`` and the docs.
        flag: its command-line flag; ``""``: ``--`` and its name with hyphens; None: not a flag (an input given
            another way, or one only the Python API passes, such as an image).
        parse: turns the flag's text into the value (default: by the field's type).
        choices: the values it takes, where they are a fixed few.
        metavar: how ``--help`` shows its value.
    """
    metadata = {"help": help, "flag": flag, "parse": parse, "choices": choices, "metavar": metavar}
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def option_help(options: type, name: str) -> str:
    """The help line of the option ``name`` of the options dataclass ``options``."""
    return next(item.metadata.get("help", "") for item in dataclasses.fields(options) if item.name == name)


# Option values as text (command-line flags), parsed into what the options dataclasses hold.


def parse_whole(text: str, what: str) -> int:
    """A whole number of at least 0.

    Example:
        >>> parse_whole("512", "size")
        512
    """
    try:
        value = int(text)
    except ValueError:
        raise InputError(f"{what} must be a whole number, got {text!r}") from None
    if value < 0:
        raise InputError(f"{what} must be a whole number of at least 0, got {value}")
    return value


def parse_weighted(text: str, what: str) -> tuple[str, float]:
    """Split ``name[:weight]`` (weight 1 when absent); the name may itself contain colons.

    Example:
        >>> parse_weighted("starry.jpg:0.7", "style")
        ('starry.jpg', 0.7)
        >>> parse_weighted("relu4_2", "layer")
        ('relu4_2', 1.0)
    """
    name, separator, weight = text.rpartition(":")
    if not separator:
        return text, 1.0
    try:
        value = float(weight)
    except ValueError:
        return text, 1.0
    if not math.isfinite(value):
        raise InputError(f"{what} weight must be a finite number, got {weight!r} in {text!r}")
    return name, value


def parse_layers(text: str, what: str) -> dict[str, float]:
    """``relu1_1,relu2_1:0.5`` → ``{"relu1_1": 1.0, "relu2_1": 0.5}``."""
    return dict(parse_weighted(item.strip(), f"{what} layer") for item in text.split(",") if item.strip())


def parse_names(text: str | None) -> tuple[str, ...] | None:
    """``relu2_1,relu1_1`` → ``("relu2_1", "relu1_1")``, empty items dropped (``''`` → none); None stays None."""
    return None if text is None else tuple(filter(None, text.split(",")))


def format_layers(layers: dict[str, float]) -> str:
    """The inverse of :func:`parse_layers`, weights shown where they are not 1.

    Example:
        >>> format_layers({"relu4_1": 1.0, "relu5_1": 0.3})
        'relu4_1,relu5_1:0.3'
    """
    return ",".join(name if weight == 1 else f"{name}:{weight:g}" for name, weight in layers.items())


def parse_numbers(text: str | None, what: str) -> list[int] | None:
    """``"128,256,512"`` → ``[128, 256, 512]``; None stays None.

    Example:
        >>> parse_numbers("150, 50,15", "iterations")
        [150, 50, 15]
    """
    if text is None:
        return None
    try:
        return [int(item) for item in text.split(",") if item.strip()]
    except ValueError:
        raise InputError(f"{what} must be comma-separated whole numbers, got {text!r}") from None
