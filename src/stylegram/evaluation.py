"""The figures people judge a stylized picture by, behind ``stylegram eval`` and :func:`evaluate`.

All images are compared at one working size: by default the first output's own size, so a picture is judged
as it was made (an upsampled 256 px picture would lose its fine strokes and score as a worse style match);
``size`` sets another long side, to compare outputs of different sizes on equal terms. The content photo is
resized to the working dimensions, the style image to the working long side.

* ``pixel_mse``: mean squared difference to the content photo, RGB in 0..1.
* ``ssim``: structural similarity to the content photo (Gaussian window 11, σ 1.5; mean of R, G, B).
* ``structure_ssim``, ``gradient_ssim``: SSIM of the luminance, and of the luminance's gradient magnitude
  (Sobel), to the content photo's: how much of the photo's structure and edges a picture keeps, whatever its
  colours (the photorealistic engine's figures).
* ``content_distance``: ``‖F − F_content‖² / ‖F_content‖²`` of VGG19 ``relu4_2`` activations.
* ``style_distance``: per style layer ``‖G − G_style‖_F / ‖G_style‖_F`` of normalised Gram matrices, and their
  mean (``style_distance``); 0 means the style statistics match exactly.
* ``style_distance_in_mask`` / ``style_distance_outside_mask`` (with a ``mask``): the same, from Gram
  matrices of the masked region only (guided Gram) and of the rest: whether a region style stayed in its region.
* ``histogram_distance``: Hellinger distance of the joint RGB histograms (16 bins a channel) of the picture and
  the style image: 0 the same colours in the same amounts, 1 none shared.
* ``chroma_difference``: mean ``|ΔI| + |ΔQ|`` (YIQ, 0..1 RGB) to the content photo: 0 when colours are kept.
* ``diversity`` (two or more outputs): mean over pairs of ``‖F_a − F_b‖² / ½(‖F_a‖² + ‖F_b‖²)`` at the style
  layers, averaged over layers; 0 means identical pictures.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.nn import functional

from stylegram.engines.base import describe_image, picture_size
from stylegram.features.encoder import VGGEncoder
from stylegram.features.layers import DEFAULT_STYLE_LAYERS
from stylegram.io.image import ImageInput, image_to_tensor, load_image, resize
from stylegram.io.video import probe_video, read_frames
from stylegram.ops.color import rgb_to_yiq
from stylegram.ops.flow import frame_difference, motion, to_grey
from stylegram.ops.gram import gram_matrix, guided_gram
from stylegram.ops.losses import relative_squared_error
from stylegram.ops.masks import mask_from_image, resize_mask
from stylegram.ops.tiling import average_down
from stylegram.runtime import resolve_device

CONTENT_LAYER = "relu4_2"
STYLE_LAYERS = tuple(DEFAULT_STYLE_LAYERS)


@dataclass
class EvaluationReport:
    """Figures for each output (in order) and, for two or more, their diversity."""

    outputs: list[dict] = field(default_factory=list)
    diversity: float | None = None


def _gaussian_window(channels: int, size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    coords = torch.arange(size, dtype=torch.float32) - (size - 1) / 2
    kernel = torch.exp(-(coords**2) / (2 * sigma**2))
    kernel = kernel / kernel.sum()
    return (kernel[:, None] * kernel[None, :]).expand(channels, 1, size, size).contiguous()


def ssim(a: torch.Tensor, b: torch.Tensor) -> float:
    """Structural similarity (Wang et al. 2004) of two ``(1, C, H, W)`` images in 0..1, averaged over channels.

    Example:
        >>> image = torch.rand(1, 3, 32, 32)
        >>> round(ssim(image, image), 6)
        1.0
    """
    channels = a.shape[1]
    window = _gaussian_window(channels).to(a.device)
    c1, c2 = 0.01**2, 0.03**2

    def blur(x: torch.Tensor) -> torch.Tensor:
        return functional.conv2d(x, window, groups=channels)

    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a**2
    var_b = blur(b * b) - mu_b**2
    covariance = blur(a * b) - mu_a * mu_b
    numerator = (2 * mu_a * mu_b + c1) * (2 * covariance + c2)
    denominator = (mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2)
    return float((numerator / denominator).mean())


def gradient_magnitude(image: torch.Tensor) -> torch.Tensor:
    """The Sobel gradient magnitude of a ``(1, 1, H, W)`` image (a step of 1 gives 1), borders replicated.

    Example:
        >>> step = torch.zeros(1, 1, 8, 8)
        >>> step[..., 4:] = 1
        >>> gradient_magnitude(step)[0, 0, 4].tolist()
        [0.0, 0.0, 0.0, 0.5, 0.5, 0.0, 0.0, 0.0]
    """
    sobel = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]], device=image.device) / 8
    kernels = torch.stack([sobel, sobel.T]).unsqueeze(1)
    gradients = functional.conv2d(functional.pad(image, (1, 1, 1, 1), mode="replicate"), kernels)
    return gradients.pow(2).sum(dim=1, keepdim=True).sqrt()


def histogram_distance(a: torch.Tensor, b: torch.Tensor, bins: int = 16) -> float:
    """Hellinger distance of the joint RGB histograms of two ``(1, 3, H, W)`` images in 0..1 (sizes may differ).

    Example:
        >>> red, blue = torch.zeros(1, 3, 4, 4), torch.zeros(1, 3, 4, 4)
        >>> red[:, 0], blue[:, 2] = 1, 1
        >>> histogram_distance(red, red), histogram_distance(red, blue)
        (0.0, 1.0)
    """

    def histogram(image: torch.Tensor) -> torch.Tensor:
        codes = (image.clamp(0, 1) * (bins - 1)).round().long().flatten(2)[0]
        index = (codes[0] * bins + codes[1]) * bins + codes[2]
        counts = torch.bincount(index, minlength=bins**3).double()
        return counts / counts.sum()

    overlap = float(torch.sqrt(histogram(a) * histogram(b)).sum())
    return round(max(0.0, 1.0 - overlap) ** 0.5, 6)


def _relative_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).pow(2).sum() / (0.5 * (a.pow(2).sum() + b.pow(2).sum()) + 1e-12))


def _style_distances(
    features: dict[str, torch.Tensor], style_grams: dict[str, torch.Tensor], weight: torch.Tensor | None = None
) -> dict[str, float]:
    """``‖G − G_style‖ / ‖G_style‖`` per style layer, of all positions or of those weighted by ``weight``."""
    distances = {}
    for name in STYLE_LAYERS:
        layer = features[name]
        positions = torch.ones_like(layer[:, :1]) if weight is None else average_down(weight, *layer.shape[-2:])
        gram = guided_gram(layer, positions)
        distances[name] = round(float(relative_squared_error(gram, style_grams[name]).sqrt()), 6)
    return distances


def _load_at(source: ImageInput, size: tuple[int, int], what: str) -> torch.Tensor:
    return image_to_tensor(resize(load_image(source, what=what), size))


@torch.no_grad()
def evaluate(
    outputs: Sequence[ImageInput],
    content: ImageInput | None = None,
    style: ImageInput | None = None,
    *,
    size: int | None = None,
    mask: ImageInput | None = None,
    style_mask: ImageInput | None = None,
    weights: str | Path | None = None,
    device: str = "auto",
) -> EvaluationReport:
    """Compute the figures of each output against the content photo and the style image.

    Args:
        outputs: stylized pictures (paths or PIL images).
        content: the photo they were made from; content figures are left out without it.
        style: the painting; style figures are left out without it.
        size: working long side for every comparison; None: the first output's own size.
        mask: a region of the outputs (white; resized to the working size): style distances are also given
            inside and outside it.
        style_mask: a region of the painting (white, at the painting's size or resized to it): the style
            figures compare with that region's statistics (guided Gram matrices) instead of the whole painting's.
        weights: the user's VGG19 weights (default: the shipped ones).
        device: ``auto``, ``cpu`` or ``cuda``.

    Example:
        >>> from PIL import Image
        >>> photo = Image.radial_gradient("L").convert("RGB")
        >>> report = evaluate([photo], content=photo, size=64)
        >>> report.outputs[0]["ssim"], report.outputs[0]["pixel_mse"]
        (1.0, 0.0)
    """
    target = resolve_device(device)
    encoder = VGGEncoder.load([CONTENT_LAYER, *STYLE_LAYERS], weights).to(target)
    first = load_image(outputs[0], what="output image")
    working = picture_size(first.size, size, "output image", target)

    content_tensor = content_features = None
    if content is not None:
        content_tensor = _load_at(content, working, "content image").to(target)
        content_features = encoder(content_tensor)[CONTENT_LAYER]
    style_grams = None
    if style is not None:
        style_image = load_image(style, what="style image")
        style_size = picture_size(style_image.size, max(working), "style image", target)
        style_tensor = image_to_tensor(resize(style_image, style_size)).to(target)
        style_region = None
        if style_mask is not None:
            style_region = resize_mask(mask_from_image(load_image(style_mask, what="style mask")), style_size)
            style_region = style_region.to(target)
        style_features = encoder(style_tensor)
        style_grams = {
            name: gram_matrix(style_features[name])
            if style_region is None
            else guided_gram(style_features[name], average_down(style_region, *style_features[name].shape[-2:]))
            for name in STYLE_LAYERS
        }

    region = None
    if mask is not None and style_grams is not None:
        region = resize_mask(mask_from_image(load_image(mask, what="mask")), working).to(target)
    report = EvaluationReport()
    all_features = []
    for index, source in enumerate(outputs):
        image = _load_at(source, working, f"output image {index + 1}").to(target)
        features = encoder(image)
        all_features.append(features)
        figures: dict = {"output": describe_image(source), "size": list(working)}
        if content_tensor is not None:
            figures["pixel_mse"] = round(float((image - content_tensor).pow(2).mean()), 6)
            chroma = (rgb_to_yiq(image)[:, 1:] - rgb_to_yiq(content_tensor)[:, 1:]).abs().sum(dim=1)
            figures["chroma_difference"] = round(float(chroma.mean()), 6)
            figures["ssim"] = round(ssim(image, content_tensor), 6)
            image_y, content_y = rgb_to_yiq(image)[:, :1], rgb_to_yiq(content_tensor)[:, :1]
            figures["structure_ssim"] = round(ssim(image_y, content_y), 6)
            figures["gradient_ssim"] = round(ssim(gradient_magnitude(image_y), gradient_magnitude(content_y)), 6)
            figures["content_distance"] = round(
                float(relative_squared_error(features[CONTENT_LAYER], content_features)), 6
            )
        if style_grams is not None:
            per_layer = _style_distances(features, style_grams)
            figures["style_distance"] = round(sum(per_layer.values()) / len(per_layer), 6)
            figures["style_distance_per_layer"] = per_layer
            figures["histogram_distance"] = histogram_distance(image, style_tensor)
            if region is not None:
                for where, weight in (("in_mask", region), ("outside_mask", 1 - region)):
                    distances = _style_distances(features, style_grams, weight)
                    figures[f"style_distance_{where}"] = round(sum(distances.values()) / len(distances), 6)
        report.outputs.append(figures)

    if len(all_features) > 1:
        pairs = list(itertools.combinations(all_features, 2))
        distances = [
            sum(_relative_distance(a[name], b[name]) for name in STYLE_LAYERS) / len(STYLE_LAYERS) for a, b in pairs
        ]
        report.diversity = round(sum(distances) / len(distances), 6)
    return report


def warping_errors(source: str | Path, stylized: str | Path) -> tuple[list[float], list[float]]:
    """Per pair of consecutive frames (1 after 0, 2 after 1, …), the warping error of the stylized clip and of
    the source itself (see :func:`evaluate_video`)."""
    info = probe_video(stylized)
    errors, floors = [], []
    previous = previous_source = previous_grey = None
    for original, frame in zip(read_frames(source, (info.width, info.height)), read_frames(stylized), strict=False):
        grey = to_grey(original)
        if previous is not None:
            flow, mask = motion(grey, previous_grey)
            errors.append(frame_difference(previous, frame, flow, mask))
            floors.append(frame_difference(previous_source, original, flow, mask))
        previous, previous_source, previous_grey = frame, original, grey
    return errors, floors


@torch.no_grad()
def evaluate_video(
    source: str | Path,
    stylized: str | Path,
    style: ImageInput | None = None,
    *,
    style_every: int = 10,
    weights: str | Path | None = None,
    device: str = "auto",
) -> dict:
    """Temporal consistency of a stylized clip (behind ``stylegram eval-video``).

    * ``warping_error``: Lai et al. (2018): the mean absolute difference (0..1) between each stylized frame and
      the previous one warped to it by the *source's* optical flow, over the pixels where that flow is reliable;
      0 means every point keeps its colour as it moves. ``source_warping_error`` is the same figure for the
      source itself: what motion blur, lighting and flow errors leave even without any stylization (the floor).
    * ``style_distance`` (with ``style``): the mean of :func:`evaluate`'s style distance over every
      ``style_every``-th frame.
    """
    info = probe_video(stylized)
    size = (info.width, info.height)
    frames = []
    if style is not None:
        frames = [Image.fromarray(frame) for frame in itertools.islice(read_frames(stylized), 0, None, style_every)]
    errors, floors = warping_errors(source, stylized)
    figures = {
        "frames": len(errors) + 1,
        "size": list(size),
        "warping_error": round(float(np.mean(errors)), 6) if errors else 0.0,
        "source_warping_error": round(float(np.mean(floors)), 6) if floors else 0.0,
    }
    if frames:
        report = evaluate(frames, style=style, weights=weights, device=device)
        figures["style_distance"] = round(float(np.mean([f["style_distance"] for f in report.outputs])), 6)
    return figures
