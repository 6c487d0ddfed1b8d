"""Feed-forward style transfer (Johnson et al. 2016): one pass of a network trained for one painting.

The pipeline:

1. check the inputs (the model is found, the options make sense),
2. load the photo at the output size and the network (cached per process),
3. choose the precision and whether to pass the picture whole or in tiles (memory),
4. run the network: whole, or tile by tile with instance-norm statistics measured once on the whole picture
   (made smaller) and feathered blending across the overlaps, so no tile has its own tone and no seam shows,
5. colour preservation and strength (a blend with the photo) as post-processing,
6. return the picture with its timings and the options that made it.
"""

from __future__ import annotations

import copy
import os
import tempfile
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar

import torch

from stylegram.cpu import ThreadSchedule
from stylegram.engines.base import (
    ProgressCallback,
    ProgressEvent,
    Request,
    Result,
    check_pixels,
    check_request,
    picture_size,
    request_record,
    strength_of,
    tile_option,
)
from stylegram.engines.registry import EngineInfo, option, register
from stylegram.errors import InputError
from stylegram.io.image import image_to_tensor, load_image, resize
from stylegram.models.export import OnnxStyleNetwork, export_onnx
from stylegram.models.store import load_style_model, resolve_model
from stylegram.models.transformer import TransformerNet, frozen_statistics
from stylegram.ops.color import finish
from stylegram.ops.tiling import plan_tiles, statistics_copy
from stylegram.runtime import choose_inference_tile, choose_precision, precision_name, resolve_device
from stylegram.version import __version__

DEFAULT_MODEL = "starry_night"
#: Peak bytes per pixel of one inference pass of the light network in float32 (bench/fast_vs_stl.py measures
#: it); a picture whose pass would not fit in the memory free goes in tiles (``choose_inference_tile``).
INFERENCE_BYTES_PER_PIXEL = 600
#: Pixels shared by neighbouring tiles. With its statistics frozen, an output pixel of the default network sees
#: about 70 px around it; the feathered weights are 0 in the outer quarter of an overlap and small next to it,
#: so with 256 px a tile's cut edge barely reaches a pixel that counts.
TILE_OVERLAP = 256


RUNTIMES = ("torch", "onnxruntime")


@dataclass
class FastOptions:
    """Options of the feed-forward engine (each field's help is in its metadata)."""

    model: str = option(
        DEFAULT_MODEL, "a shipped style's name (stylegram styles) or a model file from stylegram train", flag=None
    )
    tile_size: int | None = tile_option()
    runtime: str = option(
        "torch",
        "what runs the network: torch, or onnxruntime (exported once per process, fp32; needs "
        "pip install 'stylegram[onnx]'; pictures that need tiles still run in torch)",
        choices=RUNTIMES,
    )


def check_inputs(request: Request) -> tuple[FastOptions, Path]:
    """Validate a request for this engine before any work; return its options and the model file."""
    check_request(request, styles_required=False)
    options = request.options if request.options is not None else FastOptions()
    if not isinstance(options, FastOptions):
        raise InputError(f"the fast engine takes FastOptions, got {type(options).__name__}")
    if request.styles:
        raise InputError("the fast engine paints the style its model was trained on; give --model, not a style image")
    if request.regions is not None:
        raise InputError(
            "the fast engine has one style per model; region styles need the gatys, adain, wct, efdm or photo engine"
        )
    if options.runtime not in RUNTIMES:
        raise InputError(f"unknown runtime {options.runtime!r}; expected one of {', '.join(RUNTIMES)}")
    check_pixels("tile size", options.tile_size, 128)
    return options, resolve_model(options.model)


@lru_cache(maxsize=8)
def _cached_model(path: str, modified_ns: int) -> tuple[TransformerNet, dict[str, Any]]:
    return load_style_model(path)


@lru_cache(maxsize=8)
def _cached_network(path: str, modified_ns: int, device: torch.device, dtype: torch.dtype | None) -> TransformerNet:
    net, _ = _cached_model(path, modified_ns)
    return copy.deepcopy(net).to(device=device, dtype=dtype or torch.float32)


def load_model(
    path: Path, device: torch.device | None = None, dtype: torch.dtype | None = None
) -> tuple[TransformerNet, dict[str, Any]]:
    """The network of a model file on ``device`` (None: the CPU) with its weights in ``dtype`` (None: fp32), and
    its metadata; loaded once per process (again when the file changes).

    The whole network runs in ``dtype``, instance normalisation included: under autocast instead, every
    normalisation converts its input to fp32 and back, which cost more than the convolutions (see docs/fast.md).
    """
    modified_ns = os.stat(path).st_mtime_ns
    net = _cached_network(str(path), modified_ns, device or torch.device("cpu"), dtype)
    return net, _cached_model(str(path), modified_ns)[1]


@lru_cache(maxsize=8)
def _onnx_network(path: str, modified_ns: int, threads: int) -> OnnxStyleNetwork:
    net, _ = _cached_model(path, modified_ns)
    with tempfile.TemporaryDirectory(prefix="stylegram-onnx-") as folder:  # the session keeps what it needs
        return OnnxStyleNetwork(export_onnx(net, Path(folder) / "model.onnx"), net.multiple, threads)


@torch.no_grad()
def run_network(
    net: TransformerNet, image: torch.Tensor, tile_size: int | None = None, on_tile: Any = None
) -> torch.Tensor:
    """``net`` applied to ``image`` (``(1, 3, H, W)`` in 0..1), whole or in tiles, clamped to 0..1, in fp32.

    The network runs in the precision of its weights (see :func:`load_model`).

    In tiles, the instance normalisations use statistics measured once on the whole picture made smaller
    (:func:`~stylegram.ops.tiling.statistics_copy`), and the tiles' outputs are blended with feathered weights that
    sum to 1.

    Example:
        >>> net = TransformerNet(widths=(8, 8, 8), residual_blocks=1).eval()
        >>> picture = torch.rand(1, 3, 200, 300)
        >>> run_network(net, picture, tile_size=128).shape
        torch.Size([1, 3, 200, 300])
    """
    dtype = next(net.parameters()).dtype
    if tile_size is None or max(image.shape[-2:]) <= tile_size:
        return net(image.to(dtype)).float().clamp(0, 1)
    height, width = image.shape[-2:]
    reference = statistics_copy(image)
    output = torch.zeros_like(image)
    tiles = plan_tiles(height, width, tile_size, min(TILE_OVERLAP, tile_size // 4))
    with frozen_statistics(net, reference.to(dtype)):
        for index, tile in enumerate(tiles, start=1):
            stylized = net(tile.crop(image).to(dtype)).float()
            tile.crop(output).add_(stylized * tile.weight.to(image.device))
            if on_tile is not None:
                on_tile(index, len(tiles))
    return output.clamp(0, 1)


@register
class FastEngine:
    """A trained network per style (Johnson et al.): a picture in one pass, a fraction of a second."""

    info: ClassVar[EngineInfo] = EngineInfo(
        "fast",
        "Fast",
        "a trained network per style, one pass: instant",
        FastOptions,
        style_input="model",
        video="blend",
        live=True,
        strength_meaning="a blend of the network's picture (1) with the photo (0)",
        order=10,
    )

    def run(self, request: Request, on_progress: ProgressCallback | None = None) -> Result:
        started = time.perf_counter()
        # 1. Check the inputs.
        options, model_path = check_inputs(request)
        device = resolve_device(request.device)

        # 2. Load the photo and the network.
        photo = load_image(request.content, what="content image")
        size = picture_size(photo.size, request.size, "content image", device)
        content = image_to_tensor(resize(photo, size)).to(device)
        dtype = choose_precision(request.precision, device)
        net, info = load_model(model_path, device, dtype)
        schedule = ThreadSchedule(request.threads)
        threads = schedule.fit(1)

        # 3. Tiles.
        tile_size = choose_inference_tile(size, device, options.tile_size, INFERENCE_BYTES_PER_PIXEL)
        setup_s = time.perf_counter() - started

        # 4. Run the network.
        def on_tile(index: int, count: int) -> None:
            if on_progress is not None:
                on_progress(ProgressEvent(index, count, "stylize", {}, time.perf_counter() - started))

        use_onnx = options.runtime == "onnxruntime" and tile_size is None
        if use_onnx:
            session = _onnx_network(str(model_path), os.stat(model_path).st_mtime_ns, threads)
            picture = torch.from_numpy(session(content.cpu().numpy())).to(device)
        else:
            picture = run_network(net, content, tile_size, on_tile)
        network_s = time.perf_counter() - started - setup_s
        if on_progress is not None and tile_size is None:
            on_tile(1, 1)

        # 5. Colour and strength.
        picture = finish(picture, content, request.color, strength_of(request, self.info))

        # 6. The result.
        record = request_record(request, self.info.name)
        record["run"] = {
            "version": __version__,
            "output_size": list(size),
            "model_file": str(model_path),
            "model_style": info.get("style"),
            "precision": "fp32" if use_onnx else precision_name(dtype),
            "runtime": "onnxruntime" if use_onnx else "torch",
            "tile_size": tile_size,
            "threads": schedule.changes,
        }
        total_s = time.perf_counter() - started
        return Result.of(
            picture,
            timings={"setup_s": setup_s, "network_s": network_s, "total_s": total_s},
            options=record,
        )
