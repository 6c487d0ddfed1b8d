"""Uploads checked by their content, not their names: images (decoded cheaply to check them, fully to use
them) and video clips."""

from __future__ import annotations

import io
import tempfile

import av
from PIL import Image

from stylegram.errors import InputError
from stylegram.io.image import check_pixel_count, load_image
from stylegram.io.video import VideoInfo, probe_video


class UnsupportedUpload(InputError):
    """An upload that is not an image in one of :data:`UPLOAD_FORMATS`, nor a video where one is taken (HTTP 415)."""


#: FFmpeg's names of the containers taken as video uploads (MP4/MOV, Matroska/WebM, AVI): not GIFs or stills.
VIDEO_CONTAINERS = {"mov", "mp4", "matroska", "webm", "avi"}


def probe_video_bytes(data: bytes, what: str) -> VideoInfo:
    """:func:`~stylegram.io.video.probe_video` of an upload's bytes (through a temporary file: container formats
    need to seek); errors name the upload as ``what``.

    Raises:
        UnsupportedUpload: not a video.
        InputError: a video stylegram does not take (variable frame rate, over the limits…).
    """
    with tempfile.NamedTemporaryFile(suffix=".video") as file:
        file.write(data)
        file.flush()
        try:
            with av.open(file.name) as container:
                if not set(container.format.name.split(",")) & VIDEO_CONTAINERS:
                    raise UnsupportedUpload(f"the {what} is neither an image nor a video stylegram can read")
            return probe_video(file.name)
        except av.error.FFmpegError:
            raise UnsupportedUpload(f"the {what} is neither an image nor a video stylegram can read") from None
        except UnsupportedUpload:
            raise
        except InputError as error:
            message = str(error).replace(file.name, f"the {what}")
            if any(words in message for words in ("not a readable video", "still image", "no video stream")):
                raise UnsupportedUpload(f"the {what} is neither an image nor a video stylegram can read") from None
            raise InputError(message) from None


def open_image_bytes(data: bytes, what: str, max_pixels: int) -> Image.Image:
    """An upload's bytes as an RGB image, checked by content (not by name) and against ``max_pixels``.

    Raises:
        UnsupportedUpload: not an image in an accepted format.
        InputError: damaged, or too large.
    """
    return load_image(_open_upload(data, what, max_pixels), max_pixels=max_pixels, what=what)


def check_image_bytes(data: bytes, what: str, max_pixels: int) -> tuple[int, int]:
    """What :func:`open_image_bytes` checks, at a fraction of the cost: the upright ``(width, height)`` of an
    upload. A JPEG is decoded at an eighth of its size (every byte is still read, so a damaged one is still
    found): a full 30-megapixel decode would allocate 90 MB while holding the interpreter, and the event loop
    would wait for it.

    Raises:
        UnsupportedUpload: not an image in an accepted format.
        InputError: damaged, or too large.
    """
    image = _open_upload(data, what, max_pixels)
    width, height = image.size
    check_pixel_count(image.size, max_pixels, what)  # now: the draft below makes the image look smaller
    image.draft("RGB", (max(1, width // 8), max(1, height // 8)))
    checked = load_image(image, max_pixels=max_pixels, what=what)
    turned = width != height and (checked.width > checked.height) != (width > height)  # EXIF orientation
    return (height, width) if turned else (width, height)


def _open_upload(data: bytes, what: str, max_pixels: int) -> Image.Image:
    try:
        image = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError:
        raise InputError(f"the {what} has too many pixels (over {max_pixels})") from None
    except Exception:
        raise UnsupportedUpload(f"the {what} is not an image (JPEG, PNG, WebP, BMP or TIFF)") from None
    if image.format not in UPLOAD_FORMATS:
        raise UnsupportedUpload(f"the {what} is a {image.format} file; accepted: {', '.join(UPLOAD_FORMATS)}")
    return image


#: MPO: the JPEG of cameras that store more than one view (the first is taken, as the CLI does).
UPLOAD_FORMATS = ("JPEG", "MPO", "PNG", "WEBP", "BMP", "TIFF")
