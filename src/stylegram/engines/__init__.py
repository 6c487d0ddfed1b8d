"""Engines: the ways stylegram makes a picture, all behind :class:`~stylegram.engines.base.Engine`, each described
once by an :class:`~stylegram.engines.registry.EngineInfo`."""

# Imported in the order the front ends list them: one pass first, optimisation last.
from stylegram.engines import fast, arbitrary, gatys  # noqa: F401, I001  (registers the engines)
from stylegram.engines.base import Engine, ProgressCallback, ProgressEvent, Request, Result, StyleSpec
from stylegram.engines.registry import EngineInfo, engine_info, engine_infos, engine_names, get_engine

__all__ = [
    "Engine",
    "EngineInfo",
    "ProgressCallback",
    "ProgressEvent",
    "Request",
    "Result",
    "StyleSpec",
    "engine_info",
    "engine_infos",
    "engine_names",
    "get_engine",
]
