import torch

from stylegram.ops.color import join_luminance, match_color, match_luminance, rgb_to_yiq, yiq_to_rgb


def random_image(seed, low=0.0, high=1.0, size=(1, 3, 24, 32)):
    generator = torch.Generator().manual_seed(seed)
    return low + (high - low) * torch.rand(size, generator=generator)


def test_yiq_round_trip_and_grey_has_no_chroma():
    image = random_image(0)
    torch.testing.assert_close(yiq_to_rgb(rgb_to_yiq(image)), image)
    grey = torch.full((1, 3, 2, 2), 0.4)
    yiq = rgb_to_yiq(grey)
    torch.testing.assert_close(yiq[:, 0], torch.full((1, 2, 2), 0.4))
    assert yiq[:, 1:].abs().max() < 1e-6


def test_join_keeps_the_stylized_luminance_and_the_photos_chroma():
    stylized, photo = random_image(1, 0.3, 0.7), random_image(2, 0.3, 0.7)
    joined = rgb_to_yiq(join_luminance(stylized, photo))
    torch.testing.assert_close(joined[:, 0], rgb_to_yiq(stylized)[:, 0], atol=1e-5, rtol=0)
    torch.testing.assert_close(joined[:, 1:], rgb_to_yiq(photo)[:, 1:], atol=1e-5, rtol=0)


def test_matched_luminance_has_the_contents_mean_and_spread():
    style, content = random_image(3), random_image(4, 0.2, 0.5)
    grey = match_luminance(style, content)
    content_y = rgb_to_yiq(content)[:, 0]
    assert torch.isclose(grey[:, 0].mean(), content_y.mean(), atol=1e-5)
    assert torch.isclose(grey[:, 0].std(), content_y.std(), rtol=1e-3)
    assert torch.equal(grey[:, 0], grey[:, 1])


def test_colour_matching_gives_the_targets_mean_and_covariance():
    # A source and a target whose colours are correlated differently; the target sits mid-range so that the
    # clamp to 0..1 does not bite.
    source = random_image(5)
    source[:, 1] = 0.5 * source[:, 0] + 0.5 * source[:, 1]
    target = random_image(6, 0.35, 0.65)
    matched = match_color(source, target)

    def stats(image):
        pixels = image.reshape(3, -1).double()
        return pixels.mean(dim=1), torch.cov(pixels, correction=0)

    matched_mean, matched_cov = stats(matched)
    target_mean, target_cov = stats(target)
    torch.testing.assert_close(matched_mean, target_mean, atol=1e-4, rtol=0)
    torch.testing.assert_close(matched_cov, target_cov, atol=2e-4, rtol=0)
