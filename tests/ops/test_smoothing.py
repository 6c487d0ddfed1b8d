"""Photorealistic smoothing: locally affine maps of the photo's colours, fitted to a stylized picture."""

import torch
from torch.nn import functional

from stylegram.evaluation import gradient_magnitude, ssim
from stylegram.ops.color import rgb_to_yiq
from stylegram.ops.smoothing import _box, fit_local_affine, smooth


def test_the_running_sum_box_is_the_window_mean_at_every_radius():
    tensor = torch.rand(1, 4, 23, 31, dtype=torch.float64)
    for radius in (1, 3, 12):
        expected = functional.avg_pool2d(tensor, 2 * radius + 1, stride=1, padding=radius, count_include_pad=False)
        assert torch.allclose(_box(tensor, radius), expected, atol=1e-12)


def _two_tone_photo() -> torch.Tensor:
    photo = torch.full((1, 3, 48, 64), 0.2)
    photo[..., :, 32:] = torch.tensor([0.8, 0.6, 0.3]).view(1, 3, 1, 1)  # a sharp vertical edge
    return photo + 0.02 * torch.rand(1, 3, 48, 64)


def test_a_blurred_blotchy_grade_comes_back_with_the_photos_edges():
    photo = _two_tone_photo()
    graded = 1 - photo  # any re-grading of the photo
    torch.manual_seed(0)
    stylized = functional.avg_pool2d(graded, 9, stride=1, padding=4, count_include_pad=False)  # edges softened
    stylized = stylized + 0.1 * functional.interpolate(torch.rand(1, 3, 6, 8), size=(48, 64), mode="bilinear")
    smoothed = smooth(photo, stylized, radius=6, eps=1e-3)
    edges = gradient_magnitude(rgb_to_yiq(photo)[:, :1])

    def edge_ssim(picture):
        return ssim(gradient_magnitude(rgb_to_yiq(picture.clamp(0, 1))[:, :1]), edges)

    assert edge_ssim(smoothed) > edge_ssim(stylized) + 0.1
    # ...and the look (the grade) is kept: far closer to the graded photo than to the photo itself.
    assert (smoothed - graded).abs().mean() < 0.5 * (photo - graded).abs().mean()


def test_maps_fitted_small_apply_to_the_photo_at_full_size():
    photo = _two_tone_photo()
    small = functional.interpolate(photo, scale_factor=0.5, mode="area")
    maps = fit_local_affine(small, 0.5 * small + 0.25, radius=4, eps=1e-6)
    full = maps.apply(photo)
    assert full.shape == photo.shape
    assert (full - (0.5 * photo + 0.25)).abs().max() < 0.02
