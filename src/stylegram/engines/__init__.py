"""Engines: the ways stylegram makes a picture, all behind :class:`~stylegram.engines.base.Engine`, each described
once by an :class:`~stylegram.engines.registry.EngineInfo`.

Every module of this package is imported here, so an engine in a new module registers itself with no other file
changed; front ends list the engines by their description's ``order``.
"""

import importlib
import pkgutil

from stylegram.engines.base import Engine, ProgressCallback, ProgressEvent, Request, Result, StyleSpec
from stylegram.engines.registry import EngineInfo, engine_info, engine_infos, engine_names, get_engine

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

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
