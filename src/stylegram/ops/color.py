"""Colour preservation (Gatys, Bethge, Hertzmann & Shechtman 2016, "Preserving colour in neural artistic
style transfer"): keep the photo's colours while taking the painting's strokes.

Two methods, as in the paper:

* **luminance**: transfer style on luminance only. Before the transfer the painting's luminance is given the
  photo's mean and spread (:func:`match_luminance`); afterwards the result's luminance is joined with the
  photo's chroma (:func:`join_luminance`), in YIQ.
* **match**: recolour the painting so the mean and covariance of its RGB values equal the photo's
  (:func:`match_color`), then transfer as usual.

Both also work as post-processing of any picture: :func:`preserve_colors`.

All functions take ``(N, 3, H, W)`` RGB tensors in 0..1.
"""

from __future__ import annotations

import torch

from stylegram.errors import InputError

#: RGB → YIQ (NTSC 1953), rows Y, I, Q.
RGB_TO_YIQ = torch.tensor(
    [
        [0.299, 0.587, 0.114],
        [0.595716, -0.274453, -0.321263],
        [0.211456, -0.522591, 0.311135],
    ]
)
COLOR_METHODS = ("none", "luminance", "match")
_EPS = 1e-5


def rgb_to_yiq(image: torch.Tensor) -> torch.Tensor:
    """RGB to YIQ, channel-wise.

    Example:
        >>> rgb_to_yiq(torch.ones(1, 3, 1, 1)).flatten().round(decimals=4).tolist()
        [1.0, 0.0, 0.0]
    """
    return torch.einsum("ij,njhw->nihw", RGB_TO_YIQ.to(image), image)


def yiq_to_rgb(image: torch.Tensor) -> torch.Tensor:
    """YIQ back to RGB (the exact inverse of :func:`rgb_to_yiq`)."""
    return torch.einsum("ij,njhw->nihw", torch.linalg.inv(RGB_TO_YIQ).to(image), image)


def luminance(image: torch.Tensor) -> torch.Tensor:
    """The Y channel repeated three times: the grey picture VGG19 sees in luminance-only transfer."""
    return rgb_to_yiq(image)[:, :1].expand(-1, 3, -1, -1).contiguous()


def match_luminance(style: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """The style's luminance with the content's mean and standard deviation, as a grey RGB picture.

    Example:
        >>> grey = match_luminance(torch.rand(1, 3, 8, 8), torch.full((1, 3, 4, 4), 0.25))
        >>> round(grey.mean().item(), 4), torch.equal(grey[:, 0], grey[:, 2])
        (0.25, True)
    """
    style_y, content_y = rgb_to_yiq(style)[:, :1], rgb_to_yiq(content)[:, :1]
    normalised = (style_y - style_y.mean()) / (style_y.std() + _EPS)
    matched = normalised * content_y.std() + content_y.mean()
    return matched.expand(-1, 3, -1, -1).contiguous()


def join_luminance(stylized: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """The luminance of ``stylized`` with the chroma (I, Q) of ``content``, in RGB, clamped to 0..1.

    Example:
        >>> red = torch.tensor([1.0, 0.0, 0.0]).view(1, 3, 1, 1)
        >>> out = join_luminance(torch.full((1, 3, 1, 1), 0.299), red)
        >>> [round(v, 3) for v in out.flatten().tolist()]
        [1.0, 0.0, 0.0]
    """
    if stylized.shape[-2:] != content.shape[-2:]:
        content = torch.nn.functional.interpolate(content, size=stylized.shape[-2:], mode="bicubic")
    joined = torch.cat([rgb_to_yiq(stylized)[:, :1], rgb_to_yiq(content)[:, 1:]], dim=1)
    return yiq_to_rgb(joined).clamp(0, 1)


def _mean_covariance(image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    pixels = image.reshape(3, -1).double()
    mean = pixels.mean(dim=1, keepdim=True)
    centred = pixels - mean
    return mean, centred @ centred.T / pixels.shape[1] + _EPS * torch.eye(3, dtype=torch.float64)


def _matrix_power(matrix: torch.Tensor, power: float) -> torch.Tensor:
    values, vectors = torch.linalg.eigh(matrix)
    return vectors @ torch.diag(values.clamp_min(_EPS) ** power) @ vectors.T


def match_color(source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``source`` recoloured by an affine map so its RGB mean and covariance equal ``target``'s.

    The map is ``x ↦ Σ_t^½ Σ_s^-½ (x − μ_s) + μ_t`` (symmetric square roots, the "image analogies" colour
    transfer of the paper). Values are clamped to 0..1.

    Example:
        >>> source = torch.rand(1, 3, 16, 16)
        >>> target = 0.5 * torch.rand(1, 3, 16, 16) + 0.25
        >>> matched = match_color(source, target)
        >>> torch.allclose(matched.mean(dim=(2, 3)), target.mean(dim=(2, 3)), atol=0.02)
        True
    """
    if source.shape[0] != 1 or target.shape[0] != 1:
        raise InputError("colour matching takes one image at a time")
    source_mean, source_cov = _mean_covariance(source)
    target_mean, target_cov = _mean_covariance(target)
    transform = _matrix_power(target_cov, 0.5) @ _matrix_power(source_cov, -0.5)
    pixels = source.reshape(3, -1).double()
    matched = transform @ (pixels - source_mean) + target_mean
    return matched.reshape(source.shape).to(source.dtype).clamp(0, 1)


def preserve_colors(stylized: torch.Tensor, content: torch.Tensor, method: str = "luminance") -> torch.Tensor:
    """Give a finished picture the photo's colours back, whatever engine made it.

    ``luminance`` keeps the picture's luminance and takes the photo's chroma; ``match`` recolours the picture
    to the photo's colour mean and covariance (keeps more of the painting's contrast, less exact hues).
    """
    if method == "luminance":
        return join_luminance(stylized, content)
    if method == "match":
        return match_color(stylized, content)
    raise InputError(f"unknown colour method {method!r}; expected luminance or match")


def finish(picture: torch.Tensor, photo: torch.Tensor, color: str, strength: float = 1.0) -> torch.Tensor:
    """The post-processing every one-pass engine ends with: ``picture`` given the ``photo``'s colours back
    (``color``, as :func:`preserve_colors`; ``none`` leaves them) and blended back towards the photo by
    ``strength`` (1: the picture as it is).

    Example:
        >>> photo, picture = torch.zeros(1, 3, 2, 2), torch.ones(1, 3, 2, 2)
        >>> finish(picture, photo, "none", 0.25).mean().item()
        0.25
    """
    if color != "none":
        picture = preserve_colors(picture, photo, color)
    if strength < 1:
        picture = photo + strength * (picture - photo)
    return picture
