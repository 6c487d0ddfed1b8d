"""Batches in the service: several photos × several styles, each pair a job of its own; or a long clip in
chunks of frames, each chunk a job of its own.

A batch is a list of ordinary jobs (queued one by one, so any number of workers on any machines share it; a
lost worker loses only its item, which the collector retries as for any job) and a small record tying them
together: ``<data>/batches/<id>.json`` with each item's job id and the name its picture gets in the batch's zip,
or, for a video, each chunk's frames; its result is the chunks joined (``<id>.mp4``, made once, when asked).
"""

from __future__ import annotations

import io
import json
import re
import time
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from stylegram.errors import InputError
from stylegram.io.image import IMAGE_SUFFIXES
from stylegram.server.records import (
    DONE,
    FINAL_STATES,
    INPUT_PREFIX,
    RESULTS,
    Job,
    JobStore,
    is_job_id,
    write_atomically,
)
from stylegram.video import Chunk, join_chunks


@dataclass
class BatchItem:
    """One photo × style of a batch: its job and the name of its picture in the zip."""

    job_id: str
    name: str


@dataclass
class Batch:
    """``kind`` ``pictures`` (photos × styles) or ``video`` (``chunks``: a :class:`~stylegram.video.Chunk` per
    item, as a dict)."""

    id: str
    items: list[BatchItem]
    created: float = field(default_factory=time.time)
    kind: str = "pictures"
    chunks: list[dict] = field(default_factory=list)


def picture_name(upload_name: str | None, fallback: str) -> str:
    """A file-name stem made of an upload's name: letters, digits, ``-`` and ``_`` only.

    Example:
        >>> picture_name("../My Photo (1).JPG", "photo1"), picture_name(None, "photo1")
        ('My_Photo_1', 'photo1')
    """
    stem = Path(upload_name or "").stem
    cleaned = re.sub(r"[^A-Za-z0-9_-]+", "_", stem).strip("_")
    return cleaned or fallback


def item_names(photos: list[str], styles: list[str]) -> list[str]:
    """``photo_style.png`` for every photo × style, made unique where two uploads share a name.

    Example:
        >>> item_names(["a", "a"], ["x"])
        ['a_x.png', 'a_x-2.png']
    """
    names: list[str] = []
    for photo in photos:
        for style in styles:
            name, count = f"{photo}_{style}.png", 1
            while name in names:
                count += 1
                name = f"{photo}_{style}-{count}.png"
            names.append(name)
    return names


class BatchStore:
    """The batch records of a data directory."""

    def __init__(self, data_dir: str | Path) -> None:
        self.folder = Path(data_dir) / "batches"
        self.folder.mkdir(parents=True, exist_ok=True)

    def add(self, batch: Batch) -> None:
        write_atomically(self.folder / f"{batch.id}.json", json.dumps(asdict(batch)).encode())

    def get(self, batch_id: str) -> Batch | None:
        if not is_job_id(batch_id):  # the id names a file: nothing else may be reached through it
            return None
        path = self.folder / f"{batch_id}.json"
        if not path.is_file():
            return None
        record = json.loads(path.read_text())
        items = [BatchItem(**item) for item in record["items"]]
        return Batch(record["id"], items, record["created"], record.get("kind", "pictures"), record.get("chunks", []))

    def joined_video(self, batch: Batch, jobs: JobStore) -> Path:
        """The chunks of a finished video batch as one MP4 with the clip's sound, joined once and kept."""
        path = self.folder / f"{batch.id}.mp4"
        if not path.is_file():
            parts = [
                (Chunk(**chunk), jobs.folder(item.job_id) / RESULTS["video"][0])
                for chunk, item in zip(batch.chunks, batch.items, strict=True)
            ]
            join_chunks(parts, jobs.folder(batch.items[0].job_id) / f"{INPUT_PREFIX}content", path)
        return path


def batch_jobs(batch: Batch, jobs: JobStore) -> list[Job]:
    return [job for job in (jobs.get(item.job_id) for item in batch.items) if job is not None]


def batch_finished(batch_jobs: list[Job]) -> bool:
    return all(job.status in FINAL_STATES for job in batch_jobs)


def result_zip(batch: Batch, jobs: JobStore) -> bytes:
    """The finished pictures of a batch in one zip (stored: PNGs do not compress further)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for item in batch.items:
            job = jobs.get(item.job_id)
            result = jobs.folder(item.job_id) / RESULTS["image"][0]
            if job is not None and job.status == DONE and result.is_file():
                archive.write(result, item.name)
    return buffer.getvalue()


def zip_pictures(data: bytes, max_member_bytes: int, max_members: int) -> list[tuple[str, bytes]]:
    """The pictures in a zip (by their names' suffixes; their content is checked by the caller), each read to
    at most ``max_member_bytes`` whatever its header says, so a zip bomb stops at the limit.

    Raises:
        InputError: not a zip, a member over the limit, more than ``max_members`` pictures, or none.
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise InputError("the photos zip is not a zip file") from None
    members = [
        info
        for info in archive.infolist()
        if not info.is_dir() and Path(info.filename).suffix.lower() in IMAGE_SUFFIXES
    ]
    members = [info for info in members if not Path(info.filename).name.startswith(".")]  # macOS resource forks
    if not members:
        raise InputError("the photos zip holds no pictures (.jpg, .png, .webp, .tif, .bmp)")
    if len(members) > max_members:
        raise InputError(f"the photos zip holds {len(members)} pictures; this server takes at most {max_members}")
    pictures = []
    for info in members:
        try:
            with archive.open(info) as member:
                content = member.read(max_member_bytes + 1)
        except (zipfile.BadZipFile, OSError, RuntimeError) as error:  # RuntimeError: an encrypted member
            raise InputError(f"cannot read {info.filename} in the photos zip: {error}") from None
        if len(content) > max_member_bytes:
            raise InputError(
                f"{info.filename} in the photos zip is over this server's limit of {max_member_bytes} bytes"
            )
        pictures.append((info.filename, content))
    return pictures
