"""Reading and writing images: every mode to RGB, EXIF rotation, colour profiles, pixel limits, atomic saves with
metadata.

Pillow does the decoding; this module decides what stylegram accepts and turns Pillow's many failure modes
into one-line :class:`~stylegram.errors.InputError` messages. The networks work in sRGB: a picture with an
embedded ICC profile (Adobe RGB, Display P3, a camera's) is converted to sRGB as it is read (LittleCMS, through
Pillow's ``ImageCms``), and every picture written carries an sRGB profile, so print and layout tools read its
colours as they were meant.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import warnings
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import png
import tifffile
import torch
from PIL import Image, ImageCms, ImageOps, PngImagePlugin, UnidentifiedImageError

from stylegram.errors import InputError
from stylegram.io.files import atomic_path, check_writable, input_files, same_file

#: Largest image accepted, in pixels (a 64-megapixel photo passes; decompression bombs do not).
MAX_INPUT_PIXELS = 8192 * 8192
#: What a folder's pictures are named (for folders of photos and paintings).
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".bmp")
#: Output formats by file extension.
SAVE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP", ".tif": "TIFF", ".tiff": "TIFF"}
#: Output formats that hold an alpha channel.
ALPHA_FORMATS = ("PNG", "WEBP", "TIFF")
#: Output formats that hold 16 bits a channel, and the bit depths a picture is written in.
DEEP_FORMATS = ("PNG", "TIFF")
BIT_DEPTHS = (8, 16)
#: Quality of JPEG and WebP output unless asked otherwise.
DEFAULT_QUALITY = {"JPEG": 95, "WEBP": 90}
#: The profile embedded in every picture written: what the networks' output is.
SRGB_PROFILE = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
#: EXIF tags: the orientation, and the pointer to the GPS block.
ORIENTATION_TAG, GPS_IFD_TAG = 0x0112, 0x8825
#: PNG text chunk holding the options that made an image.
METADATA_KEY = "stylegram"

ImageInput = str | os.PathLike | Image.Image


def _high_bit_depth_to_8bit(image: Image.Image) -> Image.Image:
    # Pillow's own conversion of 16-bit and float greyscale to RGB clips instead of scaling.
    values = np.asarray(image, dtype=np.float64)
    if image.mode == "F":
        low, high = float(values.min()), float(values.max())
        values = (values - low) / (high - low or 1.0) * 255.0
    else:
        values = values / 257.0
    return Image.fromarray(np.clip(values.round(), 0, 255).astype(np.uint8), mode="L")


TRANSPARENT_MODES = ("RGBA", "LA", "PA", "RGBa", "La")


def fill_transparent(rgba: Image.Image) -> Image.Image:
    """The RGB of ``rgba`` with its fully transparent pixels filled from the visible ones around them (a
    push–pull pyramid: each level averages the visible pixels below it, weighted by their alpha), so that what
    is not there paints as little as possible: no edge, no colour of its own.

    Example:
        >>> logo = Image.new("RGBA", (8, 8), (0, 0, 0, 0))
        >>> logo.paste((200, 10, 10, 255), (0, 0, 4, 8))
        >>> fill_transparent(logo).getpixel((7, 4))
        (200, 10, 10)
    """
    colours = np.asarray(rgba.convert("RGB"), dtype=np.float64)
    weights = np.asarray(rgba.getchannel("A"), dtype=np.float64)[..., None] / 255.0
    if weights.min() > 0:
        return rgba.convert("RGB")
    if weights.max() == 0:
        return Image.new("RGB", rgba.size, (128, 128, 128))
    levels = [(colours * weights, weights)]
    while min(levels[-1][1].shape[:2]) > 1:
        weighted, weight = levels[-1]
        height, width = (max(1, side // 2) for side in weight.shape[:2])
        levels.append(
            (
                cv2.resize(weighted, (width, height), interpolation=cv2.INTER_AREA).reshape(height, width, 3),
                cv2.resize(weight, (width, height), interpolation=cv2.INTER_AREA).reshape(height, width, 1),
            )
        )
    filled = levels[-1][0] / np.maximum(levels[-1][1], 1e-12)
    for weighted, weight in reversed(levels[:-1]):
        height, width = weight.shape[:2]
        coarse = cv2.resize(filled, (width, height), interpolation=cv2.INTER_LINEAR).reshape(height, width, 3)
        known = np.minimum(weight, 1.0)
        filled = known * weighted / np.maximum(weight, 1e-12) + (1 - known) * coarse
    original = weights > 0
    result = np.where(original, colours, filled)
    return Image.fromarray(np.clip(result.round(), 0, 255).astype(np.uint8), mode="RGB")


def to_rgb(image: Image.Image) -> Image.Image:
    """Convert any Pillow mode to 8-bit RGB: fully transparent pixels filled from the visible ones around them
    (:func:`fill_transparent`; the alpha itself is :func:`load_alpha`'s), 16-bit scaled, CMYK converted.

    Example:
        >>> to_rgb(Image.new("I;16", (2, 2), 65535)).getpixel((0, 0))
        (255, 255, 255)
    """
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        image = _high_bit_depth_to_8bit(image)
    if _has_alpha(image):
        return fill_transparent(image.convert("RGBA"))
    return image.convert("RGB")


def _opened(source: ImageInput) -> contextlib.AbstractContextManager[Image.Image]:
    """A picture to read a header or a channel from: a file opened (and closed after), or the caller's image
    as it is (left open)."""
    return contextlib.nullcontext(source) if isinstance(source, Image.Image) else Image.open(source)


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in TRANSPARENT_MODES or (image.mode == "P" and "transparency" in image.info)


def load_alpha(source: ImageInput) -> Image.Image | None:
    """The alpha channel of a picture (upright, as :func:`load_image` reads it), or None when every pixel is
    opaque or it has none. A file is opened only as far as its header unless it has an alpha channel."""
    try:
        with _opened(source) as opened:
            if not _has_alpha(opened):
                return None
            alpha = ImageOps.exif_transpose(opened).convert("RGBA").getchannel("A")
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return None  # the engine reading the picture says what is wrong with it
    return None if alpha.getextrema()[0] == 255 else alpha


def to_srgb(image: Image.Image, what: str = "image") -> Image.Image:
    """``image`` with its embedded ICC profile applied: its colours in sRGB (perceptual intent), the profile
    dropped; an image without a profile is taken to be sRGB already.

    Raises:
        InputError: a profile LittleCMS cannot read or apply.

    Example:
        >>> to_srgb(Image.new("RGB", (2, 2), "red")).getpixel((0, 0))
        (255, 0, 0)
    """
    profile = image.info.get("icc_profile")
    if not profile or image.mode not in ("RGB", "RGBA", "L", "LA", "CMYK", "P", "PA"):
        return image  # high-bit-depth modes keep their numbers: LittleCMS here takes 8-bit pictures
    if image.mode in ("P", "PA"):
        image = image.convert("RGBA" if image.mode == "PA" or "transparency" in image.info else "RGB")
    alpha = image.getchannel("A") if image.mode in ("RGBA", "LA") else None
    base = image.convert("RGB" if image.mode == "RGBA" else "L") if alpha is not None else image
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
        converted = ImageCms.profileToProfile(
            base, source, ImageCms.createProfile("sRGB"), renderingIntent=ImageCms.Intent.PERCEPTUAL, outputMode="RGB"
        )
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError) as error:
        raise InputError(f"{what} has a broken ICC colour profile: {str(error).splitlines()[0]}") from None
    if alpha is not None:
        converted.putalpha(alpha)
    converted.info = {key: value for key, value in image.info.items() if key != "icc_profile"}
    return converted


def check_pixel_count(size: tuple[int, int], max_pixels: int, what: str) -> None:
    """Refuse an image of more than ``max_pixels`` (a guard against decompression bombs), before it is decoded."""
    width, height = size
    if width * height > max_pixels:
        raise InputError(f"{what} is {width}x{height} = {width * height} pixels, over the limit of {max_pixels}")


def load_image(source: ImageInput, max_pixels: int = MAX_INPUT_PIXELS, what: str = "image") -> Image.Image:
    """Open a path (or take a PIL image) and return it as an upright RGB image.

    Args:
        source: a file path or a :class:`PIL.Image.Image`.
        max_pixels: refuse larger images (a guard against decompression bombs).
        what: how error messages name this input, e.g. ``"content image"``.

    Raises:
        InputError: missing, unreadable, not an image, truncated, or over ``max_pixels``.
    """
    if isinstance(source, Image.Image):
        image = source
    else:
        path = Path(source)
        if not path.exists():
            raise InputError(f"{what} not found: {path}")
        if path.is_dir():
            raise InputError(f"{what} is a directory, not an image file: {path}")
        try:
            image = Image.open(path)
        except UnidentifiedImageError:
            raise InputError(f"{what} is not an image Pillow can read: {path}") from None
        except Image.DecompressionBombError:
            raise InputError(
                f"{what} {path} is over the limit of {max_pixels} pixels (a decompression bomb?)"
            ) from None
        except OSError as error:
            raise InputError(f"cannot read {what} {path}: {error.strerror or error}") from None
    check_pixel_count(image.size, max_pixels, what)
    width, height = image.size
    if width < 1 or height < 1:
        raise InputError(f"{what} is empty ({width}x{height})")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image.load()
            image = ImageOps.exif_transpose(image)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombWarning) as error:
        raise InputError(f"{what} is damaged or truncated: {str(error).splitlines()[0]}") from None
    if image.mode == "F" and not np.isfinite(np.asarray(image)).all():
        raise InputError(f"{what} has pixels that are not numbers (NaN or infinite)")
    return to_rgb(to_srgb(image, what))


#: numpy's way of turning an array upright for each EXIF orientation (what ``ImageOps.exif_transpose`` does).
_UPRIGHT = {
    2: lambda a: a[:, ::-1],
    3: lambda a: a[::-1, ::-1],
    4: lambda a: a[::-1],
    5: lambda a: np.rot90(a[:, ::-1], 1),
    6: lambda a: np.rot90(a, -1),
    7: lambda a: np.rot90(a[:, ::-1], -1),
    8: lambda a: np.rot90(a, 1),
}


def _is_srgb(profile: bytes | None) -> bool:
    if not profile:
        return True
    try:
        return "srgb" in ImageCms.getProfileDescription(ImageCms.ImageCmsProfile(io.BytesIO(profile))).lower()
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return False


def load_deep(source: ImageInput, size: tuple[int, int] | None = None) -> torch.Tensor | None:
    """A 16-bit PNG or TIFF photo at its full depth, upright, as a ``(1, 3, H, W)`` float32 tensor in 0..1
    (resized to ``size``, ``(width, height)``), for the engines whose output keeps the photo's own detail;
    None for any other picture, and for one whose ICC profile is not sRGB (LittleCMS here converts 8-bit
    pictures only: :func:`load_image` has its colours right at 8 bits).

    Pillow reads such files at 8 bits; OpenCV reads them whole.
    """
    if isinstance(source, Image.Image):
        return None
    try:
        with Image.open(source) as opened:
            deep = opened.format in DEEP_FORMATS and any(";16" in str(tile.args) for tile in opened.tile)
            orientation = opened.getexif().get(ORIENTATION_TAG, 1)
            profile = opened.info.get("icc_profile")
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return None  # load_image says what is wrong with it
    if not deep or not _is_srgb(profile):
        return None
    array = cv2.imread(str(source), cv2.IMREAD_UNCHANGED)
    if array is None or array.dtype != np.uint16:
        return None
    if array.ndim == 2:
        array = np.repeat(array[..., None], 3, axis=2)
    array = cv2.cvtColor(array[..., :3], cv2.COLOR_BGR2RGB)
    array = np.ascontiguousarray(_UPRIGHT.get(orientation, lambda a: a)(array)).astype(np.float32) / 65535.0
    if size is not None and (array.shape[1], array.shape[0]) != size:
        shrinking = size[0] < array.shape[1]
        array = cv2.resize(array, size, interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC)
    return torch.from_numpy(np.clip(array, 0, 1)).permute(2, 0, 1).unsqueeze(0).contiguous()


def pictures_in(folder: str | os.PathLike) -> list[Path]:
    """The pictures in ``folder`` and its subfolders, known by their names' suffixes (``IMAGE_SUFFIXES``),
    sorted; none when it does not exist."""
    return sorted(path for path in Path(folder).rglob("*") if path.suffix.lower() in IMAGE_SUFFIXES)


def fit_long_side(size: tuple[int, int], long_side: int | None) -> tuple[int, int]:
    """Scale a ``(width, height)`` so its longer side is ``long_side`` pixels, keeping the aspect ratio.

    Example:
        >>> fit_long_side((1024, 768), 512)
        (512, 384)
    """
    width, height = size
    if long_side is None:
        return width, height
    scale = long_side / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def resize(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Resize with a filter suited to the direction (antialiased when shrinking)."""
    if image.size == size:
        return image
    return image.resize(size, Image.Resampling.LANCZOS if size[0] < image.width else Image.Resampling.BICUBIC)


def image_to_tensor(image: Image.Image) -> torch.Tensor:
    """RGB PIL image → ``(1, 3, H, W)`` float32 tensor in 0..1."""
    array = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy(array).permute(2, 0, 1).unsqueeze(0).contiguous()


def tensor_to_image(tensor: torch.Tensor) -> Image.Image:
    """``(1, 3, H, W)`` or ``(3, H, W)`` tensor in 0..1 → RGB PIL image (values clamped, rounded)."""
    # Rounded to bytes before the channels move last: the copy that makes the array contiguous is then a quarter
    # of the size (this runs on every video frame).
    channels = tensor.detach().squeeze(0).float().clamp(0, 1).mul_(255).round_().to(torch.uint8)
    return Image.fromarray(channels.permute(1, 2, 0).cpu().contiguous().numpy(), mode="RGB")


def check_output_path(
    path: str | os.PathLike, suffixes: Iterable[str] = SAVE_FORMATS, inputs: Iterable[object] = ()
) -> Path:
    """Check, before any work is done, that a file with one of ``suffixes`` (by default an image) can be
    written at ``path`` without destroying one of the run's ``inputs``.

    Args:
        path: the output file.
        suffixes: the extensions taken.
        inputs: everything the run reads; those naming files (see :func:`~stylegram.io.files.input_files`)
            must not be, or resolve to, ``path``.

    Raises:
        InputError: unknown extension, missing or unwritable folder, a name too long for its file system, a
            directory in the way, or an input in the way.

    Example:
        >>> import tempfile
        >>> photo = Path(tempfile.mkdtemp()) / "photo.png"
        >>> Image.new("RGB", (8, 8)).save(photo)
        >>> check_output_path(photo, inputs=[str(photo)])  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        stylegram.errors.InputError: output ... is also an input of this run: choose another name
    """
    path = Path(path)
    if path.suffix.lower() not in suffixes:
        raise InputError(f"cannot tell the format of output {path}; use one of {', '.join(suffixes)}")
    folder = path.parent.resolve()
    if not folder.is_dir():
        raise InputError(f"output folder does not exist: {folder}")
    longest = os.pathconf(folder, "PC_NAME_MAX")
    if len(os.fsencode(path.name)) > longest:
        raise InputError(f"output name is {len(os.fsencode(path.name))} bytes long; {folder} takes at most {longest}")
    if path.is_dir():
        raise InputError(f"output is a directory: {path}")
    for source in input_files(inputs):
        if same_file(path, source):
            raise InputError(f"output {path} is also an input of this run: choose another name")
    try:
        check_writable(path)
    except OSError as error:
        raise InputError(f"cannot write to output folder {folder}: {error.strerror or error}") from None
    return path


def check_holds_alpha(path: str | os.PathLike, source: ImageInput) -> None:
    """Refuse, before any work, to write a picture of a photo with transparency in a format without alpha."""
    image_format = SAVE_FORMATS.get(Path(path).suffix.lower())
    if image_format not in ALPHA_FORMATS and load_alpha(source) is not None:
        raise InputError(f"the photo has transparency, which {image_format} cannot hold: write .png, .webp or .tif")


def check_quality(quality: int | None) -> int | None:
    if quality is not None and (isinstance(quality, bool) or not isinstance(quality, int) or not 1 <= quality <= 100):
        raise InputError(f"quality must be a whole number from 1 to 100, got {quality!r}")
    return quality


#: What happens to the photo's EXIF in a picture made from it: kept, kept without the GPS block, or dropped.
EXIF_POLICIES = ("keep", "no-gps", "strip")


def exif_for(source: ImageInput, policy: str) -> bytes | None:
    """The EXIF block a picture made from ``source`` carries under ``policy`` (``EXIF_POLICIES``): the photo's,
    its orientation set to upright (stylegram reads pictures upright), without the GPS block for ``no-gps``;
    None for ``strip`` or a photo without EXIF."""
    if policy not in EXIF_POLICIES:
        raise InputError(f"exif must be one of {', '.join(EXIF_POLICIES)}; got {policy!r}")
    if policy == "strip":
        return None
    try:
        with _opened(source) as opened:
            exif = opened.getexif()
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return None  # the engine reading the picture says what is wrong with it
    if not exif:
        return None
    exif[ORIENTATION_TAG] = 1
    if policy == "no-gps":
        exif.pop(GPS_IFD_TAG, None)
    return exif.tobytes()


def check_bit_depth(path: str | os.PathLike, bit_depth: int) -> int:
    """Refuse, before any work, a bit depth other than 8 or 16, and 16 bits in a format that holds 8."""
    return _check_depth(SAVE_FORMATS.get(Path(path).suffix.lower()) or Path(path).suffix, bit_depth)


def _check_depth(image_format: str, bit_depth: int) -> int:
    if isinstance(bit_depth, bool) or bit_depth not in BIT_DEPTHS:
        raise InputError(f"bit depth must be 8 or 16, got {bit_depth!r}")
    if bit_depth == 16 and image_format not in DEEP_FORMATS:
        raise InputError(f"{image_format} holds 8 bits a channel: write .png or .tif for 16 bits")
    return bit_depth


def _sixteen_bits(image: Image.Image, pixels: torch.Tensor | None) -> np.ndarray:
    """``pixels`` (or ``image``'s RGB) as ``H × W × 3`` uint16, with ``image``'s alpha as a fourth channel."""
    if pixels is None:
        array = np.asarray(image.convert("RGB"), dtype=np.uint16) * 257
    else:
        if tuple(pixels.shape[-2:]) != (image.height, image.width):
            raise ValueError(f"pixels {tuple(pixels.shape)} are not the picture's {image.width}x{image.height}")
        values = pixels.detach().float().reshape(3, image.height, image.width).clamp(0, 1).mul(65535).round()
        array = values.permute(1, 2, 0).cpu().numpy().astype(np.uint16)
    if image.mode == "RGBA":
        array = np.dstack([array, np.asarray(image.getchannel("A"), dtype=np.uint16) * 257])
    return np.ascontiguousarray(array)


def _deep_png(array: np.ndarray, metadata: dict | None, exif: bytes | None) -> bytes:
    """A 16-bit PNG of ``array`` (OpenCV encodes it) with the chunks Pillow would have written: the sRGB
    profile, the options as ``stylegram`` text, the EXIF."""
    ok, encoded = cv2.imencode(
        ".png", cv2.cvtColor(array, cv2.COLOR_RGBA2BGRA if array.shape[2] == 4 else cv2.COLOR_RGB2BGR)
    )
    if not ok:
        raise InputError("could not encode the 16-bit PNG")
    chunks = list(png.Reader(bytes=encoded.tobytes()).chunks())
    extra = [(b"iCCP", b"sRGB\0\0" + zlib.compress(SRGB_PROFILE))]
    if metadata is not None:
        text = json.dumps(metadata, sort_keys=True, default=str).encode()
        extra.append((b"iTXt", METADATA_KEY.encode() + b"\0\0\0\0\0" + text))
    if exif:
        extra.append((b"eXIf", exif.removeprefix(b"Exif\0\0")))
    output = io.BytesIO()
    png.write_chunks(output, chunks[:1] + extra + chunks[1:])
    return output.getvalue()


def encode_image(
    image: Image.Image,
    image_format: str,
    metadata: dict | None = None,
    *,
    quality: int | None = None,
    exif: bytes | None = None,
    bit_depth: int = 8,
    pixels: torch.Tensor | None = None,
) -> bytes:
    """``image`` as the bytes of a ``image_format`` file (``SAVE_FORMATS``' values).

    ``metadata`` is stored as JSON in a PNG text chunk named ``stylegram`` (other formats ignore it). The picture
    carries an sRGB ICC profile, ``exif`` when given (not in 16-bit TIFF), and JPEG and WebP are written at
    ``quality`` (1–100; default 95 and 90). ``bit_depth`` 16 (PNG and TIFF) writes ``pixels``, the picture
    before it was rounded to 8 bits (``Result.pixels``; without it, ``image``'s 256 levels), with ``image``'s
    alpha.

    Example:
        >>> encode_image(Image.new("RGB", (4, 4)), "PNG", bit_depth=16)[:4]
        b'\\x89PNG'
    """
    _check_depth(image_format, bit_depth)
    if image.mode == "RGBA" and image_format not in ALPHA_FORMATS:
        raise InputError(f"the picture has transparency, which {image_format} cannot hold: write .png, .webp or .tif")
    if bit_depth == 16:
        array = _sixteen_bits(image, pixels)
        if image_format == "PNG":
            return _deep_png(array, metadata, exif)
        buffer = io.BytesIO()
        extra = ("unassalpha",) if array.shape[2] == 4 else None
        tifffile.imwrite(
            buffer, array, photometric="rgb", compression="zlib", iccprofile=SRGB_PROFILE, extrasamples=extra
        )
        return buffer.getvalue()
    options: dict = {"icc_profile": SRGB_PROFILE}
    if exif:
        options["exif"] = exif
    if image_format == "PNG" and metadata is not None:
        info = PngImagePlugin.PngInfo()
        info.add_text(METADATA_KEY, json.dumps(metadata, sort_keys=True, default=str))
        options["pnginfo"] = info
    elif image_format in DEFAULT_QUALITY:
        options["quality"] = check_quality(quality) or DEFAULT_QUALITY[image_format]
    buffer = io.BytesIO()
    try:
        image.save(buffer, format=image_format, **options)
    except OSError as error:
        raise InputError(f"cannot encode the picture as {image_format}: {error.strerror or error}") from None
    return buffer.getvalue()


def save_image(
    image: Image.Image,
    path: str | os.PathLike,
    metadata: dict | None = None,
    **encoding: Any,
) -> Path:
    """Write ``image`` (encoded by :func:`encode_image` with ``metadata`` and the ``encoding`` options, in the
    format of ``path``'s suffix) atomically: to a temporary file beside ``path``, then renamed over it. An
    existing file at ``path`` is either left whole or replaced whole."""
    path = check_output_path(path)
    data = encode_image(image, SAVE_FORMATS[path.suffix.lower()], metadata, **encoding)
    try:
        with atomic_path(path) as temporary, open(temporary, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
    except OSError as error:
        raise InputError(f"cannot write output {path}: {error.strerror or error}") from None
    return path


def read_metadata(path: str | os.PathLike) -> dict | None:
    """The options stored by :func:`save_image` in a PNG, or None."""
    with Image.open(path) as image:
        text = image.info.get(METADATA_KEY)
    return json.loads(text) if text else None
