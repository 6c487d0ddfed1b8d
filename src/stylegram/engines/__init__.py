"""Engines: the ways stylegram makes a picture, all behind :class:`~stylegram.engines.base.Engine`."""

from stylegram.engines import arbitrary, fast, gatys  # noqa: F401  (registers the engines)
from stylegram.engines.base import (
    Engine,
    ProgressCallback,
    ProgressEvent,
    Request,
    Result,
    StyleSpec,
    engine_names,
    get_engine,
)

__all__ = [
    "Engine",
    "ProgressCallback",
    "ProgressEvent",
    "Request",
    "Result",
    "StyleSpec",
    "engine_names",
    "get_engine",
]
