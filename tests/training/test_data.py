import numpy as np
import pytest
from PIL import Image

from stylegram.errors import InputError
from stylegram.training.data import PhotoCrops, collect_photos, detail


def noise_photo(seed: int, size=(400, 300)) -> Image.Image:
    """Large blocks of random colour (what tells pictures apart) with fine grain on top (detail)."""
    generator = np.random.default_rng(seed)
    blocks = Image.fromarray(generator.integers(0, 256, (6, 8, 3), dtype=np.uint8)).resize(
        size, Image.Resampling.BILINEAR
    )
    grain = generator.integers(-40, 40, (size[1], size[0], 3))
    return Image.fromarray(np.clip(np.asarray(blocks, dtype=int) + grain, 0, 255).astype(np.uint8))


def test_collect_keeps_detailed_distinct_photos_only(tmp_path):
    sources = tmp_path / "sources"
    sources.mkdir()
    noise_photo(1).save(sources / "a.png")
    noise_photo(1).resize((800, 600)).save(sources / "a_large.png")  # the same picture at another size
    noise_photo(2).save(sources / "b.jpg")
    Image.linear_gradient("L").convert("RGB").resize((400, 300)).save(sources / "gradient.png")
    Image.new("RGB", (100, 100)).save(sources / "tiny.png")
    (sources / "broken.jpg").write_bytes(b"not an image")
    kept = collect_photos(sources.iterdir(), tmp_path / "photos")
    assert len(kept) == 2
    assert all(min(Image.open(path).size) <= 512 for path in kept)
    assert detail(Image.linear_gradient("L").convert("RGB")) < 5 < detail(noise_photo(3))


def test_crops_are_seeded_squares_of_the_asked_size(tmp_path):
    for seed in range(3):
        noise_photo(seed).save(tmp_path / f"{seed}.png")
    first = next(PhotoCrops(tmp_path, size=64, seed=5).batches(3))
    again = next(PhotoCrops(tmp_path, size=64, seed=5).batches(3))
    other = next(PhotoCrops(tmp_path, size=64, seed=6).batches(3))
    assert first.shape == (3, 3, 64, 64) and first.min() >= 0 and first.max() <= 1
    assert (first == again).all() and not (first == other).all()
    with pytest.raises(InputError, match="no photos in"):
        PhotoCrops(tmp_path / "empty")
