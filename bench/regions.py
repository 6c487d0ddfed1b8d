"""Regions by meaning against hand-drawn ground truth, their speed, and matched regions (issue 22).

1. **Agreement**: mean IoU of ``semantic`` and of the colour-only ``auto`` against the polygon maps of
   ``bench/regions/ground_truth.json`` (three bench photos, five Kodak photos of ``../shared/train/photos``), with K
   = the ground-truth classes covering at least 1 % of the photo and regions paired with classes by the best
   one-to-one assignment (all permutations of K <= 6; ``stylegram.training.regions.mean_iou``).
2. **Speed**: seconds to segment each photo at 1024 px (best of 3 after a warm-up, every thread of the machine).
3. **Matched regions**: each bench photo with two PD bench paintings through adain, ``semantic:3`` and
   ``--match-regions``, and without regions; per photo region, the style distance (relative Gram, relu1_1..relu5_1,
   ``stylegram.evaluate``) to its matched painting region and to the whole painting.

Writes ``bench/results/regions.json`` and the sheet ``docs/images/regions.jpg`` (photo, ground truth, auto,
semantic) and ``docs/images/regions_matched.jpg`` (photo regions, painting regions, matched result, plain result).

Usage: ``.venv/bin/python bench/regions.py [--skip-speed] [--skip-matched]``
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from common import ROOT, best_time, measure_parts, picture_grid, previous_result, report, save
from PIL import Image

from stylegram import stylize
from stylegram.engines import Request, StyleSpec
from stylegram.engines.regions import REGION_PALETTE, resolve_regions
from stylegram.evaluation import evaluate
from stylegram.io.image import fit_long_side, image_to_tensor, resize
from stylegram.ops.masks import parse_color
from stylegram.segmentation import segment
from stylegram.training.regions import against_truth, present_classes, rasterise, summarise

SHARED = ROOT.parent / "shared"
GROUND_TRUTH = ROOT / "bench" / "regions" / "ground_truth.json"
DOCS = ROOT / "docs" / "images"
#: Long side the agreement is measured at (the ground truth is 1-2 % of the side coarse), and timed at.
AGREEMENT_SIDE = 512
TIMED_SIDE = 1024
#: The public-domain bench paintings the matched regions are tried with.
PAINTINGS = ("starry_night", "shipwreck")
PALETTE = np.array([parse_color(color) for color in REGION_PALETTE], np.uint8)


def photos() -> dict[str, tuple[Image.Image, dict]]:
    table = json.loads(GROUND_TRUTH.read_text())
    return {name: (Image.open(SHARED / entry["path"]).convert("RGB"), entry) for name, entry in table["photos"].items()}


def measure_agreement(classes: list[str]) -> dict:
    rows, figures = [], {}
    for name, (photo, entry) in photos().items():
        small = resize(photo, fit_long_side(photo.size, AGREEMENT_SIDE))
        truth = rasterise(entry, small.size, tuple(classes))
        present = present_classes(truth)
        figure, semantic, auto = against_truth(image_to_tensor(small), truth, present)
        figures[name] = {**figure, "classes": [classes[c] for c in present]}
        print(name, figures[name], file=sys.stderr, flush=True)
        folder = Path(tempfile.mkdtemp(prefix="regions-"))
        row = []
        for what, picture in (("photo", np.asarray(small)), ("truth", _class_colours(truth, present)),
                              ("auto", PALETTE[auto]), ("semantic", PALETTE[semantic])):  # fmt: skip
            Image.fromarray(picture).save(folder / f"{what}.png")
            row.append(folder / f"{what}.png")
        rows.append(row)
    picture_grid(rows, DOCS / "regions.jpg", cell=240)
    return {"side": AGREEMENT_SIDE, "photos": figures, **summarise(figures)}


def _class_colours(truth: np.ndarray, present: list[int]) -> np.ndarray:
    colours = np.zeros((max(present) + 1, 3), np.uint8)
    for index, c in enumerate(present):
        colours[c] = PALETTE[index]
    return colours[truth]


def measure_speed() -> dict:
    seconds = {}
    for name, (photo, _) in photos().items():
        tensor = image_to_tensor(resize(photo, fit_long_side(photo.size, TIMED_SIDE)))
        seconds[name] = round(best_time(lambda tensor=tensor: segment(tensor, 4), 3), 3)
    return {"side": TIMED_SIDE, "regions": 4, "threads": torch.get_num_threads(), "seconds": seconds,
            "worst_s": max(seconds.values()), "mean_s": round(float(np.mean(list(seconds.values()))), 3)}  # fmt: skip


def measure_matched() -> dict:
    figures, rows = {}, []
    folder = Path(tempfile.mkdtemp(prefix="matched-"))
    for photo_name in ("tubingen", "golden_gate", "hoovertowernight"):
        photo = resize(Image.open(SHARED / "bench" / "content" / f"{photo_name}.jpg").convert("RGB"), (512, 384))
        for painting_name in PAINTINGS:
            painting = SHARED / "bench" / "style" / f"{painting_name}.jpg"
            request = Request(photo, [StyleSpec(painting)], regions="semantic:3", match_regions=True)
            resolved = resolve_regions(request, photo)
            matched = stylize(photo, resolved.styles, engine="adain", size=None).image
            plain = stylize(photo, painting, engine="adain", size=None).image
            regions = []
            for index, spec in enumerate(resolved.styles):
                scores = {}
                for label, picture in (("matched", matched), ("plain", plain)):
                    to_region = evaluate([picture], style=painting, mask=spec.mask, style_mask=spec.style_mask)
                    to_whole = evaluate([picture], style=painting, mask=spec.mask)
                    scores[f"{label}_to_matched_region"] = to_region.outputs[0]["style_distance_in_mask"]
                    scores[f"{label}_to_whole_painting"] = to_whole.outputs[0]["style_distance_in_mask"]
                regions.append({"region": index, "share": round(float(np.asarray(spec.mask).mean() / 255), 3),
                                **scores})  # fmt: skip
            key = f"{photo_name}×{painting_name}"
            figures[key] = regions
            print(key, regions, file=sys.stderr, flush=True)
            stem = folder / key
            _drawn(photo.size, [spec.mask for spec in resolved.styles]).save(f"{stem}.photo.png")
            painting_size = Image.open(painting).size
            _drawn(painting_size, [spec.style_mask for spec in resolved.styles]).save(f"{stem}.painting.png")
            matched.save(f"{stem}.matched.png")
            plain.save(f"{stem}.plain.png")
            rows.append([Path(f"{stem}.{part}.png") for part in ("photo", "painting", "matched", "plain")])
    picture_grid(rows, DOCS / "regions_matched.jpg", cell=240)
    every = [region for regions in figures.values() for region in regions]
    return {
        "engine": "adain",
        "regions": "semantic:3",
        "pairs": figures,
        "closer_to_matched_region_than_to_whole": sum(
            r["matched_to_matched_region"] < r["matched_to_whole_painting"] for r in every
        ),
        "matched_closer_to_its_region_than_plain": sum(
            r["matched_to_matched_region"] < r["plain_to_matched_region"] for r in every
        ),
        "of": len(every),
        "mean_matched_to_matched_region": round(float(np.mean([r["matched_to_matched_region"] for r in every])), 4),
        "mean_plain_to_matched_region": round(float(np.mean([r["plain_to_matched_region"] for r in every])), 4),
    }


def _drawn(size: tuple[int, int], masks: list[Image.Image]) -> Image.Image:
    """Masks (style order) drawn in the region palette; the same colour in the photo and painting pairs them."""
    canvas = np.zeros((size[1], size[0], 3), np.uint8)
    for index, mask in enumerate(masks):
        canvas[np.asarray(mask.resize(size, Image.Resampling.NEAREST)) > 127] = PALETTE[index]
    return Image.fromarray(canvas)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skip-speed", action="store_true", help="keep the last run's timings")
    parser.add_argument("--skip-matched", action="store_true", help="keep the last run's matched-region figures")
    args = parser.parse_args()
    classes = json.loads(GROUND_TRUTH.read_text())["classes"]
    result = report("regions", agreement=measure_agreement(classes))
    measure_parts(
        result,
        previous_result("regions"),
        [("speed", args.skip_speed, measure_speed), ("matched", args.skip_matched, measure_matched)],
    )
    save(result)


if __name__ == "__main__":
    main()
