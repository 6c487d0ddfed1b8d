"""Shared fixtures: small real images cut from the example set, and helpers to make broken files."""

import os
from pathlib import Path

import pytest
from PIL import Image

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "images"


@pytest.fixture(scope="session", autouse=True)
def machine_cache(tmp_path_factory) -> Path:
    """The machine probe's cache of this test run, out of the user's home (subprocesses inherit it)."""
    folder = tmp_path_factory.mktemp("cache")
    os.environ["STYLEGRAM_CACHE_DIR"] = str(folder)
    return folder


@pytest.fixture(scope="session")
def content_path(tmp_path_factory) -> Path:
    """The Tübingen photo at 64x48: big enough for VGG19's five poolings, small enough for seconds."""
    path = tmp_path_factory.mktemp("images") / "content.png"
    Image.open(EXAMPLES / "tubingen.jpg").convert("RGB").resize((64, 48), Image.Resampling.LANCZOS).save(path)
    return path


@pytest.fixture(scope="session")
def style_path(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("images") / "style.png"
    Image.open(EXAMPLES / "starry_night.jpg").convert("RGB").resize((64, 51), Image.Resampling.LANCZOS).save(path)
    return path


@pytest.fixture
def truncated_path(tmp_path, content_path) -> Path:
    path = tmp_path / "truncated.jpg"
    Image.open(content_path).save(path, quality=90)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


@pytest.fixture
def not_an_image_path(tmp_path) -> Path:
    path = tmp_path / "notes.jpg"
    path.write_text("this is text, not a JPEG\n")
    return path


@pytest.fixture
def bomb_path(tmp_path) -> Path:
    """A tiny PNG whose header claims 50000x50000 pixels, the shape of a decompression bomb."""
    import struct
    import zlib

    path = tmp_path / "bomb.png"
    Image.new("L", (1, 1)).save(path)
    data = bytearray(path.read_bytes())
    ihdr = data.index(b"IHDR")
    data[ihdr + 4 : ihdr + 12] = struct.pack(">II", 50000, 50000)
    crc = zlib.crc32(bytes(data[ihdr : ihdr + 17]))
    data[ihdr + 17 : ihdr + 21] = struct.pack(">I", crc)
    path.write_bytes(bytes(data))
    return path
