"""Where, in what precision and memory layout, and in how much memory the networks run.

Precision and layout are chosen by measuring, never by the CPU's name (see ``stylegram.cpu``): ``auto`` takes
what the machine's probe found fastest, measured once per machine and cached.
"""

from __future__ import annotations

import os
from contextlib import AbstractContextManager, nullcontext

import torch

from stylegram.cpu import cpu_choice
from stylegram.errors import InputError

PRECISIONS = ("auto", "fp32", "bf16")
LAYOUTS = ("auto", "contiguous", "channels_last")


def resolve_device(name: str) -> torch.device:
    """Turn ``auto``/``cpu``/``cuda[:N]`` into a device that exists here."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise InputError(f"unknown device {name!r}; use auto, cpu or cuda") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InputError(f"device {name} asked for, but no CUDA GPU is available")
    if device.type not in ("cpu", "cuda"):
        raise InputError(f"unsupported device {name!r}; use auto, cpu or cuda")
    return device


def choose_precision(requested: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype to run the networks in, or None for plain float32.

    Args:
        requested: ``auto`` (what this machine's probe found fastest), ``fp32`` or ``bf16``.
        device: where the networks run. On CUDA, ``auto`` takes bf16 where the GPU supports it.
    """
    if requested not in PRECISIONS:
        raise InputError(f"unknown precision {requested!r}; expected one of {', '.join(PRECISIONS)}")
    if requested == "fp32":
        return None
    if requested == "bf16":
        return torch.bfloat16
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else None
    return torch.bfloat16 if cpu_choice().precision == "bf16" else None


def choose_layout(requested: str, device: torch.device, inference: bool = False) -> str:
    """The memory layout to run convolutions in: ``contiguous`` or ``channels_last``.

    ``auto`` takes what this machine's probe found fastest on the CPU, for forward passes alone when
    ``inference`` (the one-pass engines) or for forward and backward passes; on CUDA, where nothing was
    measured, the default layout.
    """
    if requested not in LAYOUTS:
        raise InputError(f"unknown layout {requested!r}; expected one of {', '.join(LAYOUTS)}")
    if requested != "auto":
        return requested
    if device.type != "cpu":
        return "contiguous"
    return cpu_choice().inference_layout if inference else cpu_choice().layout


def precision_name(dtype: torch.dtype | None) -> str:
    """How a run records the precision it used: ``bf16`` or ``fp32``."""
    return "bf16" if dtype == torch.bfloat16 else "fp32"


def autocast(device: torch.device, dtype: torch.dtype | None) -> AbstractContextManager:
    """Autocast to ``dtype`` on ``device``, or nothing for float32."""
    if dtype is None:
        return nullcontext()
    return torch.autocast(device.type, dtype=dtype)


#: Peak memory of one whole-picture VGG19 pass to relu5_1 with gradients, per output pixel, in float32 (measured
#: by ``bench/gatys_memory.py``: about 2 KB, plus the Gram matrices and the optimiser's vectors).
PASS_BYTES_PER_PIXEL = 2200
#: Bytes per pixel of each image-sized float32 vector: the image, its gradient, the best iterate, the optimiser's.
VECTOR_BYTES_PER_PIXEL = 12
#: Share of the available memory a run plans to use, leaving room for the rest of the machine.
MEMORY_SHARE = 0.6
#: Tile sides tried, largest first, when a whole pass does not fit.
TILE_SIDES = (1024, 768, 512)


def available_memory(device: torch.device) -> int:
    """Bytes free for this process on ``device`` now (main memory for the CPU)."""
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


#: A one-pass network (no gradients) plans to use at most this share of the free memory; beyond it the picture
#: goes through in tiles of ``INFERENCE_TILE`` px.
INFERENCE_MEMORY_SHARE = 0.5
INFERENCE_TILE = 1024


def choose_inference_tile(
    size: tuple[int, int], device: torch.device, requested: int | None, bytes_per_pixel: int
) -> int | None:
    """The tile side for one pass of a network over a ``(width, height)`` picture, or None to pass it whole.

    ``requested`` (the user's ``tile_size``) wins where the picture is larger; otherwise the picture is tiled only
    when its pass, at ``bytes_per_pixel`` of peak memory, would not fit in ``INFERENCE_MEMORY_SHARE`` of the free
    memory.
    """
    if requested is not None:
        return requested if max(size) > requested else None
    fits = size[0] * size[1] * bytes_per_pixel <= available_memory(device) * INFERENCE_MEMORY_SHARE
    return None if fits else INFERENCE_TILE


def choose_tile_size(size: tuple[int, int], steps: int, device: torch.device, requested: int | None) -> int | None:
    """The tile side for a scale of ``size`` = ``(width, height)``, or None to pass the picture whole.

    ``requested`` (the user's ``tile_size``) wins; otherwise the picture is tiled only when a whole pass would
    not fit in the memory available. Raises :class:`InputError` when even tiles would not fit: better a clear
    message now than the system killing the process an hour later.
    """
    pixels = size[0] * size[1]
    budget = available_memory(device) * MEMORY_SHARE
    vectors = pixels * VECTOR_BYTES_PER_PIXEL * (4 + 2 * min(steps, 100))
    tile = requested
    if tile is None and vectors + pixels * PASS_BYTES_PER_PIXEL > budget:
        tile = next((side for side in TILE_SIDES if vectors + side * side * PASS_BYTES_PER_PIXEL <= budget), None)
        if tile is None:
            raise InputError(
                f"a {size[0]}x{size[1]} picture needs more memory than the {budget / 2**30:.1f} GiB free to use "
                f"here; ask for a smaller size"
            )
    return tile
