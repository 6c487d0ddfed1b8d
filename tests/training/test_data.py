import numpy as np
import pytest
from PIL import Image

from stylegram.errors import InputError
from stylegram.training.data import VALIDATION_EVERY, PhotoCrops, collect_photos, detail, image_paths, is_validation


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
    with pytest.raises(InputError, match="no train pictures in"):
        PhotoCrops(tmp_path / "empty")


def test_folders_split_by_file_name_and_named_files_are_always_taken(tmp_path):
    names = [f"photo_{index}.png" for index in range(40)]
    for name in names:
        (tmp_path / name).write_bytes(b"")
    held_out = {name for name in names if is_validation(name)}
    assert 0 < len(held_out) < len(names)
    assert abs(len(held_out) / len(names) - 1 / VALIDATION_EVERY) < 0.15
    train = {path.name for path in image_paths(tmp_path)}
    validation = {path.name for path in image_paths(tmp_path, "validation")}
    assert validation == held_out and train == set(names) - held_out
    assert len(image_paths(tmp_path, "all")) == len(names)
    named = tmp_path / sorted(held_out)[0]
    assert image_paths([named]) == [named]  # a painting given by name is trained on whatever its hash
    with pytest.raises(InputError, match="split must be one of"):
        image_paths(tmp_path, "test")


def test_collected_photos_keep_their_names_so_they_stay_on_their_side(tmp_path):
    sources = tmp_path / "sources"
    for folder, seed in (("one", 1), ("two", 2)):
        (sources / folder).mkdir(parents=True)
        noise_photo(seed).save(sources / folder / "view.png")
    kept = collect_photos(sorted(sources.rglob("*.png")), tmp_path / "photos")
    assert kept[0].name == "view.jpg" and kept[1].name.startswith("view_")
