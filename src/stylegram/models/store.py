"""Trained networks on disk: fp16 safetensors with their layout and provenance in the file's metadata.

A model file holds a network's weights in float16 (half the size, no visible difference) and, under the
metadata key ``stylegram``, a JSON object with its ``kind``, its ``config`` and what made it (style image,
steps, losses, command). Two kinds are stored: style networks
(:class:`~stylegram.models.transformer.TransformerNet`, shipped in ``stylegram/weights/styles/<name>.safetensors``)
and the arbitrary-style engines' decoders (:class:`~stylegram.models.decoder.Decoder`, shipped in
``stylegram/weights/decoders/<layer>.safetensors``).
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from stylegram.errors import InputError, WeightsError
from stylegram.io.files import atomic_path
from stylegram.models.decoder import Decoder
from stylegram.models.transformer import TransformerNet

METADATA_KEY = "stylegram"
STYLE_MODEL = "stylegram.transformer"
DECODER = "stylegram.decoder"
_KIND_NAMES = {STYLE_MODEL: "style model", DECODER: "decoder"}


def shipped_styles() -> dict[str, Path]:
    """Names of the styles shipped in the package and their files."""
    folder = Path(str(resources.files("stylegram.weights") / "styles"))
    return {path.stem: path for path in sorted(folder.glob("*.safetensors"))}


def style_painting(name: str) -> Path:
    """The painting a shipped style was trained on (512 px), the style image other engines use for ``name``.

    Raises:
        InputError: ``name`` is not a shipped style (the known names are listed).
    """
    shipped = shipped_styles()
    if name not in shipped:
        raise InputError(f"unknown style {name!r}; shipped: {', '.join(shipped) or 'none'}")
    return shipped[name].with_name(f"{name}.painting.jpg")


def shipped_decoders() -> dict[str, Path]:
    """The decoders shipped in the package by the VGG19 layer they start from."""
    folder = Path(str(resources.files("stylegram.weights") / "decoders"))
    return {path.stem: path for path in sorted(folder.glob("*.safetensors"))}


def save_network(net: TransformerNet | Decoder, path: str | Path, kind: str, info: dict[str, Any]) -> Path:
    """Write ``net`` in float16 with its ``kind``, config and ``info`` as metadata, atomically."""
    path = Path(path)
    state = {name: tensor.detach().to(torch.float16).contiguous().cpu() for name, tensor in net.state_dict().items()}
    metadata = {METADATA_KEY: json.dumps({"kind": kind, "config": net.config, **info}, default=str)}
    with atomic_path(path) as temporary:
        save_file(state, str(temporary), metadata=metadata)
    return path


def resolve_model(name_or_path: str | Path) -> Path:
    """A shipped style's file by name, or a model file by path.

    Raises:
        InputError: neither a shipped style nor an existing file (the known names are listed).
    """
    shipped = shipped_styles()
    if str(name_or_path) in shipped:
        return shipped[str(name_or_path)]
    path = Path(name_or_path)
    if path.is_file():
        return path
    known = ", ".join(shipped) or "none"
    raise InputError(f"unknown model {str(name_or_path)!r}: not a shipped style ({known}) nor a file")


def save_style_model(net: TransformerNet, path: str | Path, info: dict[str, Any]) -> Path:
    return save_network(net, path, STYLE_MODEL, info)


def read_style_info(name_or_path: str | Path) -> dict[str, Any]:
    """The metadata of a shipped style or model file (layout, provenance), read without loading its weights.

    Raises:
        InputError: an unknown name.
        WeightsError: a file that is not a stylegram style model, or is damaged.
    """
    return _read_info(resolve_model(name_or_path), STYLE_MODEL)


def _read_info(path: Path, kind: str) -> dict[str, Any]:
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
    except (SafetensorError, OSError, ValueError) as error:
        raise WeightsError(f"{path} is not a readable safetensors file ({error})") from None
    try:
        info = json.loads(metadata[METADATA_KEY])
        if info.get("kind") != kind:
            raise KeyError("kind")
    except (KeyError, TypeError, ValueError):
        raise WeightsError(f"{path} is not a stylegram {_KIND_NAMES[kind]} (wrong or missing layout)") from None
    return info


def _load_network(path: Path, kind: str, build: Any) -> tuple[Any, dict[str, Any]]:
    """The network in ``path`` made by ``build(config)``, float32 in eval mode, and the file's metadata."""
    info = _read_info(path, kind)
    try:
        state = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as error:
        raise WeightsError(f"{path} is not a readable safetensors file ({error})") from None
    try:
        net = build(info["config"])
        net.load_state_dict({name: tensor.float() for name, tensor in state.items()})
    except (KeyError, TypeError, ValueError, RuntimeError, InputError):
        raise WeightsError(f"{path} is not a stylegram {_KIND_NAMES[kind]} (wrong or missing layout)") from None
    return net.eval(), info


def load_style_model(name_or_path: str | Path) -> tuple[TransformerNet, dict[str, Any]]:
    """The network (float32, eval mode) and its metadata from a shipped style's name or a model file.

    Raises:
        InputError: an unknown name.
        WeightsError: a file that is not a stylegram style model, or is damaged.
    """

    def build(config: dict) -> TransformerNet:
        return TransformerNet(tuple(config["widths"]), config["residual_blocks"], config["light"], config["add_input"])

    return _load_network(resolve_model(name_or_path), STYLE_MODEL, build)


def load_decoder(path: str | Path) -> tuple[Decoder, dict[str, Any]]:
    """A decoder (float32, eval mode) and its metadata from a file written by ``stylegram train-decoder``.

    Raises:
        InputError: no such file.
        WeightsError: a file that is not a stylegram decoder, or is damaged.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"decoder file not found: {path}")
    return _load_network(path, DECODER, lambda config: Decoder(config["layer"], config["stages"]))
