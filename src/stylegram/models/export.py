"""Style networks as ONNX models, for ONNX Runtime and other inference engines.

The exported graph takes ``image``, ``(1, 3, H, W)`` RGB in 0..1 with H and W any multiples of the network's
``multiple`` (8 for the default layout), and returns ``stylized`` of the same shape (not clamped). Pad other
sizes by reflection and crop afterwards, as :class:`OnnxStyleNetwork` does.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from stylegram.errors import InputError, WeightsError
from stylegram.models.transformer import TransformerNet

OPSET = 17


class _Body(nn.Module):
    def __init__(self, net: TransformerNet):
        super().__init__()
        self.net = net

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.net.body(image)


def export_onnx(net: TransformerNet, path: str | Path, sample_size: tuple[int, int] = (256, 256)) -> Path:
    """Write ``net`` as an ONNX model with dynamic height and width."""
    path = Path(path)
    sample = torch.rand(1, 3, *sample_size)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's notes on instance norm in eval mode
        torch.onnx.export(
            _Body(net.eval()),
            sample,
            str(path),
            input_names=["image"],
            output_names=["stylized"],
            dynamic_axes={"image": {2: "height", 3: "width"}, "stylized": {2: "height", 3: "width"}},
            opset_version=OPSET,
            dynamo=False,
        )
    return path


class OnnxStyleNetwork:
    """An exported style network run by ONNX Runtime, on pictures of any size.

    Args:
        path: an ``.onnx`` file written by :func:`export_onnx`.
        multiple: the network's size multiple (8 for the default layout).
    """

    def __init__(self, path: str | Path, multiple: int = 8, threads: int | None = None):
        try:
            import onnxruntime
        except ImportError:
            raise InputError("onnxruntime is not installed: pip install 'stylegram[onnx]'") from None
        options = onnxruntime.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        self.session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.multiple = multiple

    def __call__(self, image: np.ndarray) -> np.ndarray:
        """``(1, 3, H, W)`` float32 in 0..1 → the stylized picture, same shape, clamped to 0..1."""
        height, width = image.shape[-2:]
        pad = ((0, 0), (0, 0), (0, -height % self.multiple), (0, -width % self.multiple))
        padded = np.ascontiguousarray(np.pad(image, pad, mode="reflect"), dtype=np.float32)
        out = self.session.run(None, {"image": padded})[0]
        return np.clip(out[..., :height, :width], 0, 1)


#: Largest difference (0..1 pixel units) between ONNX Runtime's and PyTorch's outputs accepted by an export.
TOLERANCE = 1e-3


def onnx_difference(net: TransformerNet, path: str | Path, size: tuple[int, int] = (200, 264)) -> float:
    """Run ``net`` and its export at ``path`` on the same random picture (of a size that needs padding);
    return the largest difference.

    Raises:
        WeightsError: the difference exceeds ``TOLERANCE``: the export is wrong and is deleted.
    """
    sample = torch.rand(1, 3, *size, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = net.eval()(sample).clamp(0, 1).numpy()
    difference = float(np.abs(OnnxStyleNetwork(path, net.multiple)(sample.numpy()) - expected).max())
    if difference > TOLERANCE:
        Path(path).unlink(missing_ok=True)
        raise WeightsError(f"the ONNX export differs from PyTorch by {difference:.2e} (> {TOLERANCE}); not kept")
    return difference
