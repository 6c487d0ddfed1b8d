"""Photorealistic transfer: the photo engine against the painterly engines and plain colour matching.

    python bench/photoreal.py [--size 512] [--skip-gatys] [--skip-speed]

Nine photo × reference-photo pairs from the validation split of ``../shared/train/photos`` (examples of Deep
Photo Style Transfer, WCT² and LinearStyleTransfer: fog and a sunset, day and night, snow and frost…), each
made by

* ``photo`` (the engine under test), ``adain``, ``wct`` and ``gatys`` with the reference photo as the style,
* ``recolor``: the photo's colours mapped to the reference's colour mean and covariance (``stylegram recolor``'s
  ``match``, the plain colour transfer a photographer would try first),

and judged by :func:`stylegram.evaluation.evaluate` against the photo (``structure_ssim``: SSIM of the
luminance, ``gradient_ssim``: SSIM of the gradient magnitude; 1 = the photo's structure exactly) and against
the reference (``histogram_distance`` of the joint RGB histograms, and ``gram_distance``: the mean relative Gram
distance at relu1_1, relu2_1 and relu3_1, the layers that carry colour and fine texture; 0 = the reference's).
The photo engine's learned parts, the relu3_1…relu1_1 reconstruction decoders, were trained on the 70
wallpaper photos of the first photo set: none of these pairs. The photo engine's speed at ``--size`` is the
best of 3 runs after a warm-up.

Results: ``bench/results/photoreal.json``; the contact sheet ``docs/images/photoreal_sheet.jpg`` (the pairs
without people).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from common import ROOT, TRAIN, best_time, measure_parts, picture_grid, previous_result, report, save

from stylegram.api import preserve_colors, stylize
from stylegram.evaluation import evaluate
from stylegram.io.image import fit_long_side, load_image, resize
from stylegram.training.data import is_validation

PHOTOS = TRAIN / "photos"
#: (photo, reference), all in the validation split; the last (a street with people in it) stays out of the sheet.
PAIRS = [
    ("dpst_in32", "dpst_tar32"),  # a road on a clear day → a faded, vintage road
    ("dpst_in47", "dpst_tar15"),  # grey mountains → green ones in sunshine
    ("dpst_in15", "dpst_tar50"),  # snowy peaks → a frosty lake in cyan
    ("dpst_in44", "dpst_tar13"),  # a city in fog → a blazing sunset
    ("wct2_c_in14", "wct2_s_in14"),  # rocks by day → an arch at sunset
    ("lst_c_in53", "dpst_tar06"),  # a railway by day → a harbour at night
    ("dpst_in42", "dpst_tar41"),  # a desk → a vintage desk
    ("lst_c_in39", "wct2_s_in34"),  # a church nave → a golden arcade
    ("dpst_in10", "wct2_s_in64"),  # a street by day → a palace at night
]
SHEET_PAIRS = PAIRS[:6]
PAINTERLY = ("adain", "wct", "gatys")
METHODS = ("photo", "recolor", *PAINTERLY)
GRAM_LAYERS = ("relu1_1", "relu2_1", "relu3_1")


def make(method: str, photo: Path, reference: Path, size: int):
    if method == "recolor":
        picture = load_image(photo)
        return preserve_colors(resize(picture, fit_long_side(picture.size, size)), reference, "match")
    return stylize(photo, reference, engine=method, size=size).image


def figures(picture_path: Path, photo: Path, reference: Path) -> dict:
    measured = evaluate([picture_path], photo, reference).outputs[0]
    per_layer = measured["style_distance_per_layer"]
    return {
        "structure_ssim": measured["structure_ssim"],
        "gradient_ssim": measured["gradient_ssim"],
        "histogram_distance": measured["histogram_distance"],
        "gram_distance": round(sum(per_layer[layer] for layer in GRAM_LAYERS) / len(GRAM_LAYERS), 6),
    }


def quality(size: int, methods: tuple[str, ...], folder: Path) -> dict:
    pairs = {}
    for photo_name, reference_name in PAIRS:
        photo, reference = PHOTOS / f"{photo_name}.jpg", PHOTOS / f"{reference_name}.jpg"
        row = {}
        for method in methods:
            output = folder / f"{photo_name}__{method}.png"
            make(method, photo, reference, size).save(output)
            row[method] = figures(output, photo, reference)
            print(photo_name, method, row[method], flush=True)
        pairs[f"{photo_name}->{reference_name}"] = row
    means = {
        method: {
            figure: round(sum(row[method][figure] for row in pairs.values()) / len(pairs), 4)
            for figure in ("structure_ssim", "gradient_ssim", "histogram_distance", "gram_distance")
        }
        for method in methods
    }
    wins = {
        "more_structure_than_every_painterly_engine": sum(
            all(row["photo"]["structure_ssim"] > row[method]["structure_ssim"] for method in PAINTERLY if method in row)
            for row in pairs.values()
        ),
        "closer_gram_than_colour_matching": sum(
            row["photo"]["gram_distance"] < row["recolor"]["gram_distance"] for row in pairs.values()
        ),
        "closer_histogram_than_colour_matching": sum(
            row["photo"]["histogram_distance"] < row["recolor"]["histogram_distance"] for row in pairs.values()
        ),
        "pairs": len(pairs),
    }
    return {"methods": list(methods), "means": means, "wins": wins, "pairs": pairs}


def sheet(folder: Path, methods: tuple[str, ...]) -> Path:
    rows = [
        [
            PHOTOS / f"{photo}.jpg",
            PHOTOS / f"{reference}.jpg",
            *(folder / f"{photo}__{method}.png" for method in methods),
        ]
        for photo, reference in SHEET_PAIRS
    ]
    path = ROOT / "docs" / "images" / "photoreal_sheet.jpg"
    picture_grid(rows, path, cell=200)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--skip-gatys", action="store_true", help="leave the optimisation engine out (slow)")
    parser.add_argument("--skip-speed", action="store_true", help="keep the last run's speed figures")
    args = parser.parse_args()
    for photo, reference in PAIRS:
        for name in (photo, reference):
            if not is_validation(PHOTOS / f"{name}.jpg"):
                raise SystemExit(f"{name} is in the training split: it cannot judge the engine")
    methods = tuple(method for method in METHODS if not (args.skip_gatys and method == "gatys"))
    result = report("photoreal", size=args.size, columns_of_the_sheet=["photo", "reference", *methods])
    photo, reference = PHOTOS / f"{PAIRS[0][0]}.jpg", PHOTOS / f"{PAIRS[0][1]}.jpg"
    with tempfile.TemporaryDirectory(prefix="stylegram-photoreal-") as folder:
        result |= quality(args.size, methods, Path(folder))
        result["sheet"] = str(sheet(Path(folder), methods).relative_to(ROOT))
    measure_parts(
        result,
        previous_result("photoreal"),
        [
            (
                "speed",
                args.skip_speed,
                lambda: {
                    "photo_engine_s": round(
                        best_time(lambda: stylize(photo, reference, engine="photo", size=args.size), 3), 3
                    ),
                    "size": args.size,
                },
            )
        ],
    )
    save(result)


if __name__ == "__main__":
    main()
