"""Folders of photos × paintings (or trained styles) in one process, resumable.

Every photo is paired with every style (or the pairs of a CSV file); each pair is one item, written to
``output_dir`` under a name made from a pattern (``{photo}_{style}.png`` by default). The steps:

1. list the items and check, before any work, that no two write the same file;
2. per item: skip it when its output exists and was made with the same request (the options recorded in its
   metadata), else stylize it and write it atomically; a bad photo or painting fails that item with its one-line
   reason and the batch goes on;
3. after each item, the manifest (``output_dir/manifest.json``) says what was made with which options.

The VGG19 weights, trained networks and a painting's statistics (the one-pass engines) are loaded once per
process and kept by the engines, so a batch pays for them once, not per item. A request to stop
(``should_stop``, e.g. after Ctrl-C) is honoured between items; rerunning the same batch goes on where it
stopped.
"""

from __future__ import annotations

import csv
import glob
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from stylegram.engines import engine_info
from stylegram.engines.base import request_record
from stylegram.errors import InputError
from stylegram.io.files import atomic_path, same_file
from stylegram.io.image import SAVE_FORMATS, exif_for, pictures_in, read_metadata
from stylegram.transfer import DEFAULT_ENGINE, build_request, run_request, save_result

DEFAULT_PATTERN = "{photo}_{style}.png"
MANIFEST = "manifest.json"


@dataclass
class BatchItem:
    """One photo × style of a batch and what became of it.

    Attributes:
        photo: the photo.
        style: a painting's path, or a trained style's name or file (the fast engine).
        output: the picture written.
        status: ``pending``, ``done``, ``skipped`` (made before with the same request) or ``failed``.
        reason: why it failed.
        seconds: time spent on it.
    """

    photo: Path
    style: str
    output: Path
    status: str = "pending"
    reason: str = ""
    seconds: float = 0.0


@dataclass
class BatchResult:
    """The items of a batch, the manifest written, and whether it was stopped before the end."""

    items: list[BatchItem]
    manifest: Path
    stopped: bool = False
    counts: dict[str, int] = field(default_factory=dict)


def expand_paths(sources: Sequence[str | Path], what: str) -> list[Path]:
    """Files, folders (their pictures, searched recursively) and glob patterns, in the order given.

    Raises:
        InputError: a name that is no file, folder or pattern matching something.
    """
    found: list[Path] = []
    for source in sources:
        text = str(source)
        matches = sorted(glob.glob(text, recursive=True)) if glob.has_magic(text) else [text]
        if not matches or not Path(matches[0]).exists():
            raise InputError(f"no {what} found at {text}")
        for match in map(Path, matches):
            if match.is_dir():
                found += pictures_in(match)
            else:
                found.append(match)
    return found


def _style_name(style: str) -> str:
    return Path(style).stem if Path(style).suffix else style


def plan_batch(
    photos: Sequence[str | Path],
    styles: Sequence[str],
    output_dir: str | Path,
    pattern: str = DEFAULT_PATTERN,
    pairs: str | Path | None = None,
) -> list[BatchItem]:
    """The items of a batch: every photo × every style, or the ``photo,style`` rows of the CSV ``pairs``.

    Raises:
        InputError: no items, a pattern that is not a picture name, or two items writing the same file.
    """
    output_dir = Path(output_dir)
    if not output_dir.is_dir():
        raise InputError(f"output folder does not exist: {output_dir}")
    if "/" in pattern or "\\" in pattern:
        raise InputError(f"the output pattern {pattern!r} is a file name: no folders in it")
    if Path(pattern).suffix.lower() not in SAVE_FORMATS:
        raise InputError(f"the output pattern {pattern!r} must end in one of {', '.join(SAVE_FORMATS)}")
    if pairs is not None:
        try:
            with open(pairs, newline="") as file:
                rows = [(row["photo"], row["style"]) for row in csv.DictReader(file)]
        except (OSError, KeyError, csv.Error) as error:
            raise InputError(f"cannot read the pairs {pairs} (a CSV with photo and style columns): {error}") from None
        combinations = [(photo, style) for photo, style in rows]
    else:
        photo_paths = expand_paths(photos, "photo")
        combinations = [(str(photo), style) for photo in photo_paths for style in styles]
    if not combinations:
        raise InputError("the batch has no items: give photos and at least one style")
    items, writers = [], {}
    for photo, style in combinations:
        try:
            name = pattern.format(photo=Path(photo).stem, style=_style_name(style))
        except (KeyError, IndexError, ValueError):
            raise InputError(f"the output pattern {pattern!r} may name only {{photo}} and {{style}}") from None
        output = output_dir / name
        for source in (photo, style):
            if Path(source).exists() and same_file(output, Path(source)):
                raise InputError(f"{output} would overwrite an input of the batch; choose another folder or --pattern")
        if output in writers:
            raise InputError(f"{writers[output]} and {photo} × {style} would both write {output}; change --pattern")
        writers[output] = f"{photo} × {style}"
        items.append(BatchItem(Path(photo), style, output))
    return items


def _made_before(item: BatchItem, record: dict[str, Any]) -> bool:
    """Whether ``item.output`` is a whole picture made from the same request (its metadata says so)."""
    if not item.output.exists():
        return False
    try:
        made = read_metadata(item.output)
    except (OSError, ValueError, SyntaxError):  # torn or not a picture: made again
        return False
    return made is not None and {key: value for key, value in made.items() if key != "run"} == record


def _write_manifest(path: Path, items: list[BatchItem], engine: str, options: dict[str, Any]) -> None:
    entries = [asdict(item) | {"photo": str(item.photo), "output": str(item.output)} for item in items]
    text = json.dumps({"engine": engine, "options": options, "items": entries}, indent=1, default=str) + "\n"
    with atomic_path(path) as temporary:
        temporary.write_text(text)


def stylize_batch(
    items: list[BatchItem],
    *,
    engine: str = DEFAULT_ENGINE,
    size: int | None = 512,
    seed: int = 0,
    device: str = "auto",
    on_item: Callable[[BatchItem, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    quality: int | None = None,
    exif: str = "keep",
    bit_depth: int = 8,
    **options: Any,
) -> BatchResult:
    """Make every item of :func:`plan_batch` with ``engine`` and its ``options`` (an engine that paints trained
    styles takes each item's style as its ``model``); JPEG and WebP pictures at ``quality``, each with its photo's
    EXIF as ``exif`` says (``keep``, ``no-gps``, ``strip``), at ``bit_depth`` 8 or 16.

    ``on_item(item, index)`` is called as each item starts (status ``pending``) and ends.
    """
    manifest = items[0].output.parent / MANIFEST
    stopped = False
    for index, item in enumerate(items):
        if should_stop is not None and should_stop():
            stopped = True
            break
        if on_item is not None:
            on_item(item, index)
        started = time.perf_counter()
        try:
            takes_model = engine_info(engine).style_input == "model"
            styles, item_options = ([], {**options, "model": item.style}) if takes_model else (item.style, options)
            request = build_request(
                item.photo, styles, engine=engine, size=size, seed=seed, device=device, **item_options
            )
            record = request_record(request, engine)
            if _made_before(item, record):
                item.status = "skipped"
            else:
                result = run_request(request, engine)
                save_result(result, item.output, quality=quality, exif=exif_for(item.photo, exif), bit_depth=bit_depth)
                item.status = "done"
        except InputError as error:
            item.status, item.reason = "failed", str(error)
        item.seconds = round(time.perf_counter() - started, 3)
        _write_manifest(manifest, items, engine, options)
        if on_item is not None:
            on_item(item, index)
    counts = {status: sum(item.status == status for item in items) for status in ("done", "skipped", "failed")}
    return BatchResult(items, manifest, stopped, counts)
