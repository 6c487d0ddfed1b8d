"""The public Python API: everything the CLI and the server do, as functions. Both are thin layers over it.

- pictures: :func:`stylize`, :func:`remake`, :func:`save_result`, :func:`preserve_colors`, :func:`find_regions`
- batches: :func:`plan_batch`, :func:`stylize_batch`
- video: :func:`stylize_video`, :func:`evaluate_video`
- training: :func:`train_style`, :func:`train_decoder`
- evaluation and export: :func:`evaluate`, :func:`export_style`, :func:`style_list`, :func:`machine_choice`
- the engines' descriptions: :func:`engine_infos`, :func:`engine_info`
- the values front ends offer: ``COLOR_METHODS``, ``PRECISIONS``, ``DECODER_LAYERS``, ``MAX_REGIONS``… and the
  defaults (``DEFAULT_ENGINE``, ``DEFAULT_MODEL``, ``DEFAULT_TEMPORAL_STRENGTH``…)

Example:
    >>> import stylegram
    >>> result = stylegram.stylize("photo.jpg", "painting.jpg", size=256, iterations=100)  # doctest: +SKIP
    >>> result.image.save("out.png")  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
from os import PathLike
from pathlib import Path
from typing import Any

from PIL import Image

from stylegram.batch import DEFAULT_PATTERN, BatchItem, BatchResult, plan_batch, stylize_batch
from stylegram.cpu import cache_dir, cpu_choice, machine_key, max_threads, measure_again
from stylegram.engines import (
    EngineInfo,
    ProgressCallback,
    ProgressEvent,
    Request,
    Result,
    StyleSpec,
    engine_info,
    engine_infos,
    engine_names,
)
from stylegram.engines.fast import DEFAULT_MODEL
from stylegram.engines.regions import draw_regions
from stylegram.evaluation import EvaluationReport, evaluate, evaluate_video
from stylegram.io.image import ImageInput, load_image
from stylegram.models.decoder import DECODER_LAYERS
from stylegram.models.export import export_onnx, onnx_difference
from stylegram.models.store import load_style_model, read_style_info, shipped_styles
from stylegram.ops.color import COLOR_METHODS
from stylegram.ops.flow import DEFAULT_TEMPORAL_STRENGTH
from stylegram.runtime import PRECISIONS
from stylegram.segmentation import MAX_REGIONS
from stylegram.training.decoder import DECODER_STYLE_LOSSES, DecoderTrainOptions, train_decoder
from stylegram.training.fast import TrainOptions, train_style
from stylegram.training.run import MODEL_SUFFIXES, TrainResult, checkpoint_path
from stylegram.transfer import (
    DEFAULT_ENGINE,
    build_request,
    engine_options,
    preserve_colors,
    read_recipe,
    remake,
    remake_inputs,
    run_request,
    save_result,
    stylize,
)
from stylegram.video import DEFAULT_FIRST_FRAME_ITERATIONS, DEFAULT_FRAME_ITERATIONS, VideoResult, stylize_video

__all__ = [
    "COLOR_METHODS",
    "DECODER_LAYERS",
    "DECODER_STYLE_LOSSES",
    "DEFAULT_ENGINE",
    "DEFAULT_FIRST_FRAME_ITERATIONS",
    "DEFAULT_FRAME_ITERATIONS",
    "DEFAULT_MODEL",
    "DEFAULT_PATTERN",
    "DEFAULT_TEMPORAL_STRENGTH",
    "MAX_REGIONS",
    "MODEL_SUFFIXES",
    "PRECISIONS",
    "BatchItem",
    "BatchResult",
    "DecoderTrainOptions",
    "EngineInfo",
    "EvaluationReport",
    "ProgressCallback",
    "ProgressEvent",
    "Request",
    "Result",
    "StyleSpec",
    "TrainOptions",
    "TrainResult",
    "VideoResult",
    "build_request",
    "checkpoint_path",
    "engine_info",
    "engine_infos",
    "engine_names",
    "engine_options",
    "evaluate",
    "evaluate_video",
    "export_style",
    "find_regions",
    "machine_choice",
    "plan_batch",
    "preserve_colors",
    "read_recipe",
    "remake",
    "remake_inputs",
    "run_request",
    "save_result",
    "style_list",
    "stylize",
    "stylize_batch",
    "stylize_video",
    "train_decoder",
    "train_style",
]


def find_regions(photo: ImageInput, count: int, seed: int = 0) -> Image.Image:
    """The photo's regions by meaning as a label map (one colour per region), to edit and give as ``regions``."""
    return draw_regions(load_image(photo, what="photo"), count, seed=seed)


def export_style(model: str, output: str | PathLike) -> float:
    """Write a trained style (a shipped style's name or a model file) as an ONNX model at ``output``; the largest
    difference between ONNX Runtime's picture and PyTorch's on a test picture."""
    net, _ = load_style_model(model)
    export_onnx(net, output)
    return onnx_difference(net, output)


def style_list() -> dict[str, dict[str, Any]]:
    """The shipped trained styles by name, each with what its file says of it (the painting, its training)."""
    return {name: read_style_info(path) for name, path in shipped_styles().items()}


def machine_choice(again: bool = False) -> dict[str, Any]:
    """What this machine runs fastest (precision, layout, threads), measured once and cached (``again``: measure
    now), with the machine it was measured on and where the cache is."""
    choice = measure_again() if again else cpu_choice()
    return {"machine": machine_key(max_threads()), "cache": str(Path(cache_dir())), **dataclasses.asdict(choice)}
