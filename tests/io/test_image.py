import io
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from stylegram.errors import InputError
from stylegram.io.image import (
    check_output_path,
    fit_long_side,
    image_to_tensor,
    load_image,
    read_metadata,
    save_image,
    tensor_to_image,
)


@pytest.mark.parametrize(
    "make",
    [
        lambda: Image.new("CMYK", (8, 6), (0, 255, 255, 0)),
        lambda: Image.new("L", (8, 6), 128),
        lambda: Image.new("1", (8, 6), 1),
        lambda: Image.new("RGBA", (8, 6), (255, 0, 0, 128)),
        lambda: Image.new("LA", (8, 6), (10, 255)),
        lambda: Image.new("RGB", (8, 6), (1, 2, 3)).convert("P"),
        lambda: Image.fromarray(np.full((6, 8), 40000, dtype=np.uint16)),
        lambda: Image.fromarray(np.linspace(0, 3, 48, dtype=np.float32).reshape(6, 8)),
    ],
    ids=["cmyk", "grey", "bilevel", "rgba", "grey-alpha", "palette", "16-bit", "float"],
)
def test_every_mode_becomes_rgb(make):
    image = load_image(make())
    assert image.mode == "RGB"
    assert image.size == (8, 6)


def test_16_bit_is_scaled_not_clipped():
    image = load_image(Image.fromarray(np.full((2, 2), 32896, dtype=np.uint16)))
    assert image.getpixel((0, 0)) == (128, 128, 128)


def test_transparent_pixels_take_the_colours_around_them_and_the_alpha_is_kept_apart():
    from stylegram.io.image import load_alpha

    half_red = Image.new("RGBA", (2, 2), (255, 0, 0, 128))
    assert load_image(half_red).getpixel((0, 0)) == (255, 0, 0)  # its colour, the alpha apart
    logo = Image.new("RGBA", (64, 32), (0, 0, 0, 0))
    logo.paste((20, 200, 40, 255), (0, 0, 16, 32))
    logo.paste((200, 40, 20, 255), (48, 0, 64, 32))
    filled = load_image(logo)
    assert filled.getpixel((2, 5)) == (20, 200, 40) and filled.getpixel((60, 5)) == (200, 40, 20)
    middle = filled.getpixel((32, 16))
    assert 60 < middle[0] < 160 and 60 < middle[1] < 160  # between its two neighbours, no white, no black
    alpha = load_alpha(logo)
    assert alpha is not None and alpha.getpixel((2, 5)) == 255 and alpha.getpixel((32, 16)) == 0
    assert load_alpha(Image.new("RGBA", (4, 4), (1, 2, 3, 255))) is None  # opaque: nothing to keep
    palette = Image.new("P", (2, 2), 0)
    palette.info["transparency"] = 0
    assert load_image(palette).getpixel((0, 0)) == (128, 128, 128)  # nothing visible: a neutral grey


def test_exif_rotation_is_honoured(tmp_path):
    path = tmp_path / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    Image.new("RGB", (40, 20), (200, 10, 10)).save(path, exif=exif)
    assert load_image(path).size == (20, 40)


def test_bad_files_give_clear_errors(tmp_path, truncated_path, not_an_image_path, bomb_path):
    with pytest.raises(InputError, match="content image not found"):
        load_image(tmp_path / "absent.jpg", what="content image")
    with pytest.raises(InputError, match="is a directory"):
        load_image(tmp_path)
    with pytest.raises(InputError, match="not an image"):
        load_image(not_an_image_path)
    with pytest.raises(InputError, match="damaged or truncated"):
        load_image(truncated_path)
    with pytest.raises(InputError, match="over the limit"):
        load_image(bomb_path)
    with pytest.raises(InputError, match="over the limit of 10"):
        load_image(Image.new("RGB", (4, 4)), max_pixels=10)


def test_fit_long_side_keeps_aspect():
    assert fit_long_side((400, 300), 200) == (200, 150)
    assert fit_long_side((300, 400), 200) == (150, 200)
    assert fit_long_side((300, 400), None) == (300, 400)


def test_tensor_round_trip_is_exact():
    original = Image.fromarray(np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8))
    tensor = image_to_tensor(original)
    assert tensor.shape == (1, 3, 5, 7)
    assert float(tensor.min()) >= 0 and float(tensor.max()) <= 1
    assert np.array_equal(np.asarray(tensor_to_image(tensor)), np.asarray(original))


def test_save_writes_metadata_atomically(tmp_path):
    path = tmp_path / "out.png"
    save_image(Image.new("RGB", (4, 4), "red"), path, metadata={"engine": "gatys", "seed": 3})
    assert read_metadata(path) == {"engine": "gatys", "seed": 3}
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]


def test_failed_save_leaves_the_existing_file_whole(tmp_path, monkeypatch):
    path = tmp_path / "out.png"
    save_image(Image.new("RGB", (4, 4), "blue"), path)
    before = path.read_bytes()

    def broken_save(self, fp, format=None, **params):
        fp.write(b"half a PNG")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", broken_save)
    with pytest.raises(InputError, match="No space left"):  # failing to encode
        save_image(Image.new("RGB", (4, 4), "red"), path)
    assert path.read_bytes() == before
    monkeypatch.undo()

    def full_disk(descriptor):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    for bit_depth in (8, 16):  # failing to write, half the file there
        with pytest.raises(InputError, match="No space left"):
            save_image(Image.new("RGB", (4, 4), "red"), path, bit_depth=bit_depth)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]


def test_output_path_checks(tmp_path):
    with pytest.raises(InputError, match="cannot tell the format"):
        check_output_path(tmp_path / "out.gif2")
    with pytest.raises(InputError, match="folder does not exist"):
        check_output_path(tmp_path / "missing" / "out.png")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(InputError, match="folder does not exist"):
        check_output_path(blocker / "out.png")
    (tmp_path / "dir.png").mkdir()
    with pytest.raises(InputError, match="is a directory"):
        check_output_path(tmp_path / "dir.png")
    assert check_output_path(tmp_path / "ok.JPG").name == "ok.JPG"


def test_jpeg_and_webp_outputs(tmp_path):
    for name in ("out.jpg", "out.webp"):
        save_image(Image.new("RGB", (4, 4), "green"), tmp_path / name)
        with Image.open(tmp_path / name) as saved:
            assert saved.size == (4, 4)


ADOBE_RGB = Path(__file__).resolve().parents[1] / "data" / "compatibleWithAdobeRGB1998.icc"


def _in_adobe_rgb(tmp_path, colours: list[tuple[int, int, int]], name: str = "adobe.jpg") -> Path:
    """A JPEG whose pixels are ``colours`` (sRGB) converted to Adobe RGB, with that profile embedded."""
    from PIL import ImageCms

    picture = Image.new("RGB", (len(colours) * 8, 8))
    for index, colour in enumerate(colours):
        picture.paste(colour, (index * 8, 0, index * 8 + 8, 8))
    adobe = ImageCms.getOpenProfile(str(ADOBE_RGB))
    converted = ImageCms.profileToProfile(picture, ImageCms.createProfile("sRGB"), adobe, outputMode="RGB")
    path = tmp_path / name
    converted.save(path, quality=100, subsampling=0, icc_profile=adobe.tobytes())
    return path


def test_an_embedded_colour_profile_is_honoured_and_every_output_carries_srgb(tmp_path):
    from PIL import ImageCms

    colours = [(20, 180, 40), (200, 40, 40), (40, 60, 200)]
    path = _in_adobe_rgb(tmp_path, colours)
    naive = Image.open(path).convert("RGB")
    loaded = load_image(path)
    for index, colour in enumerate(colours):
        got = loaded.getpixel((index * 8 + 4, 4))
        assert max(abs(a - b) for a, b in zip(got, colour, strict=True)) <= 4  # back to the sRGB colour
    assert max(abs(a - b) for a, b in zip(naive.getpixel((4, 4)), colours[0], strict=True)) > 20  # unconverted
    for suffix in (".png", ".jpg", ".webp", ".tif"):
        output = save_image(loaded, tmp_path / f"out{suffix}")
        with Image.open(output) as written:
            profile = ImageCms.ImageCmsProfile(io.BytesIO(written.info["icc_profile"]))
            assert "sRGB" in ImageCms.getProfileDescription(profile)
            assert load_image(output).getpixel((4, 4)) == pytest.approx(loaded.getpixel((4, 4)), abs=6)


def test_a_broken_colour_profile_is_one_line(tmp_path):
    path = tmp_path / "broken.jpg"
    Image.new("RGB", (8, 8), "red").save(path, icc_profile=b"this is no ICC profile")
    with pytest.raises(InputError, match="content image has a broken ICC colour profile"):
        load_image(path, what="content image")


def test_jpeg_and_webp_quality_and_the_photo_exif(tmp_path):
    from stylegram.io.image import GPS_IFD_TAG, ORIENTATION_TAG, exif_for

    noise = Image.effect_noise((128, 128), 60).convert("RGB")
    small, large = (save_image(noise, tmp_path / f"q{q}.jpg", quality=q).stat().st_size for q in (20, 95))
    assert small < large / 2
    assert save_image(noise, tmp_path / "w.webp", quality=30).stat().st_size < large
    with pytest.raises(InputError, match="quality must be a whole number from 1 to 100"):
        save_image(noise, tmp_path / "bad.jpg", quality=0)
    photo = tmp_path / "camera.jpg"
    exif = Image.Exif()
    exif[ORIENTATION_TAG] = 6  # stored sideways
    exif[0x010F] = "Acme Camera"
    exif[GPS_IFD_TAG] = {1: "N", 2: (47.0, 30.0, 0.0)}
    noise.save(photo, exif=exif.tobytes())
    kept = Image.open(save_image(noise, tmp_path / "kept.jpg", exif=exif_for(photo, "keep"))).getexif()
    assert kept[0x010F] == "Acme Camera" and kept[ORIENTATION_TAG] == 1 and GPS_IFD_TAG in kept
    private = Image.open(save_image(noise, tmp_path / "private.jpg", exif=exif_for(photo, "no-gps"))).getexif()
    assert private[0x010F] == "Acme Camera" and GPS_IFD_TAG not in private
    assert exif_for(photo, "strip") is None
