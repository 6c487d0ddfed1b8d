"""Pictures as print and layout tools need them, from real files (tests/data/, made by
scripts/make_test_files.py): an RGBA logo, a 16-bit TIFF, a JPEG in Adobe RGB, through the CLI."""

import io
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageCms

from stylegram.cli.main import main
from stylegram.io.image import load_image

DATA = Path(__file__).resolve().parent / "data"
EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "images"
REFERENCE = EXAMPLES / "golden_gate.jpg"  # the look to move: any photo


def _transfer(content: Path, output: Path, *extra: str) -> int:
    return main(["transfer", str(content), str(REFERENCE), "--engine", "photo", "--size", "96", "-q",
                 "-o", str(output), *extra])  # fmt: skip


def _profile_name(path: Path) -> str:
    with Image.open(path) as picture:
        return ImageCms.getProfileDescription(ImageCms.ImageCmsProfile(io.BytesIO(picture.info["icc_profile"])))


@pytest.mark.parametrize("name", ["logo.png", "logo16.png", "logo16.tif"])
def test_the_logo_keeps_its_alpha_at_8_and_16_bits(name, tmp_path):
    output = tmp_path / name
    assert _transfer(DATA / "logo.png", output, "--bit-depth", "16" if "16" in name else "8") == 0
    written = cv2.imread(str(output), cv2.IMREAD_UNCHANGED)
    alpha = np.asarray(Image.open(DATA / "logo.png").getchannel("A")).astype(np.uint32)
    scale = 257 if written.dtype == np.uint16 else 1
    assert written.shape[2] == 4
    assert np.array_equal(written[..., 3].astype(np.uint32), alpha * scale)  # alpha exactly, partial edges too
    assert "sRGB" in _profile_name(output)


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_a_16_bit_tiff_gives_16_bits_with_more_than_256_levels(suffix, tmp_path):
    deep, shallow = tmp_path / f"deep{suffix}", tmp_path / "shallow.png"
    assert _transfer(DATA / "tubingen_16bit.tif", deep, "--bit-depth", "16") == 0
    assert _transfer(DATA / "tubingen_16bit.tif", shallow) == 0
    written = cv2.imread(str(deep), cv2.IMREAD_UNCHANGED)
    assert written.dtype == np.uint16 and written.shape == (72, 96, 3)
    assert len(np.unique(written[..., 1])) > 256
    # The 8-bit picture of the same request is the 16-bit one rounded.
    eight = cv2.imread(str(shallow), cv2.IMREAD_UNCHANGED).astype(np.float64)
    assert np.abs(written / 257.0 - eight).max() <= 1.0
    assert "sRGB" in _profile_name(deep)


def test_an_adobe_rgb_jpeg_is_read_in_srgb_and_written_with_an_srgb_profile(tmp_path):
    original = np.asarray(Image.open(EXAMPLES / "tubingen.jpg").convert("RGB").resize((96, 72), Image.LANCZOS))
    converted = np.asarray(load_image(DATA / "tubingen_adobergb.jpg")).astype(int)
    naive = np.asarray(Image.open(DATA / "tubingen_adobergb.jpg").convert("RGB")).astype(int)
    # Per channel, over the picture (JPEG's own error averages out): the colours meant, not the numbers stored.
    converted_error = np.abs((converted - original).mean(axis=(0, 1)))
    naive_error = np.abs((naive - original).mean(axis=(0, 1)))
    assert converted_error.max() < 1.5 and naive_error.max() > 3 * converted_error.max()
    output = tmp_path / "out.png"
    assert _transfer(DATA / "tubingen_adobergb.jpg", output) == 0
    assert "sRGB" in _profile_name(output)


@pytest.mark.parametrize(
    ("output", "extra", "message"),
    [
        ("out.jpg", ("--bit-depth", "16"), "JPEG holds 8 bits a channel"),
        ("out.webp", ("--bit-depth", "16"), "WEBP holds 8 bits a channel"),
        ("out.png", ("--bit-depth", "12"), "bit depth must be 8 or 16"),
    ],
)
def test_bad_output_requests_are_one_line_and_write_nothing(output, extra, message, tmp_path, capsys):
    assert _transfer(DATA / "tubingen_16bit.tif", tmp_path / output, *extra) == 2
    error = capsys.readouterr().err.strip()
    assert message in error and "\n" not in error
    assert list(tmp_path.iterdir()) == []


def test_a_reference_photo_too_small_is_one_line(tmp_path, capsys):
    tiny = tmp_path / "tiny.png"
    Image.new("RGB", (40, 30), "orange").save(tiny)
    code = main(["transfer", str(DATA / "tubingen_adobergb.jpg"), str(tiny), "--engine", "photo", "-q",
                 "-o", str(tmp_path / "out.png")])  # fmt: skip
    assert code == 2
    assert "reference photo 1 is 40x30; it needs at least 64 px a side" in capsys.readouterr().err
    assert not (tmp_path / "out.png").exists()
