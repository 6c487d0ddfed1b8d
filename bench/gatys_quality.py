"""Quality and wall time of Gatys variants (schedules, losses, levers) on bench and validation pairs, as JSON.

    python bench/gatys_quality.py [--variants default ...] [--variant NAME='{"iterations": [20, 4]}'] [--size 512]

Every variant is a set of ``stylegram.stylize`` options run on the same pairs at the same size, one after the
other on this machine: the three bench pairs (``examples/images``) and six photo × painting pairs from the
*validation* split of ``../shared/train`` (``stylegram.training.data.is_validation``; nothing learnt has seen
them, and the Gatys engine learns nothing, but its defaults were chosen on the bench pairs). Each picture is
judged by ``stylegram.evaluate`` at the output size; the summary gives each variant's mean content and style
distance and mean wall time, and how many pairs it did no worse than ``baseline`` on (both distances). Results
go to ``bench/results/gatys_quality.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from common import IMAGES, RESULTS, ROOT, report, save

import stylegram
from stylegram.training.data import is_validation

TRAIN = ROOT.parent / "shared" / "train"
BENCH_PAIRS = [
    (IMAGES / "tubingen.jpg", IMAGES / "starry_night.jpg"),
    (IMAGES / "golden_gate.jpg", IMAGES / "the_scream.jpg"),
    (IMAGES / "hoovertowernight.jpg", IMAGES / "shipwreck.jpg"),
]
#: Landscapes and buildings (no people) with paintings of different schools, all from the validation split.
VALIDATION_PAIRS = [
    ("photos/kodak_kodim06.jpg", "styles/gor_vangogh_wheat_field.jpg"),
    ("photos/sun_canyon.jpg", "styles/iec_kandinsky_small_worlds.jpg"),
    ("photos/kodak_kodim22.jpg", "styles/lst_vallotton_woodcut.jpg"),
    ("photos/sun_lighthouse.jpg", "styles/sid_renoir_gondola.jpg"),
    ("photos/sun_pagoda.jpg", "styles/nstf_kandinsky_composition_vii.jpg"),
    ("photos/sun_waterfall_plunge.jpg", "styles/sid_dore_engraving.jpg"),
]
#: Named variants: options given to ``stylegram.stylize`` on top of the defaults.
VARIANTS: dict[str, dict] = {
    "default": {},
    # Fewer steps where they cost most, or more scales.
    "steps 30+8": {"iterations": [30, 8]},
    "steps 20+10": {"iterations": [20, 10]},
    "steps 20+10, style weight 6": {"iterations": [20, 10], "style_weight": 6.0},
    "steps 30+4": {"iterations": [30, 4]},
    "128/256/512 px, steps 30+15+10": {"scales": [128, 256, 512], "iterations": [30, 15, 10]},
    "256/362/512 px (steps of the square root of 2), 24+8+5": {"scales": [256, 362, 512], "iterations": [24, 8, 5]},
    # Another style loss, at the default style weight and at one that keeps as much of the photo.
    "mean_cov": {"style_loss": "mean_cov"},
    "mean_cov, style weight 2": {"style_loss": "mean_cov", "style_weight": 2.0},
}


def pairs() -> list[tuple[Path, Path]]:
    validation = [(TRAIN / photo, TRAIN / style) for photo, style in VALIDATION_PAIRS]
    missing = [path for pair in validation for path in pair if not path.is_file() or not is_validation(path)]
    if missing:
        raise SystemExit(f"not a validation image of {TRAIN}: {missing[0]}")
    return BENCH_PAIRS + validation


def run(options: dict, content: Path, style: Path, size: int) -> dict:
    started = time.perf_counter()
    result = stylegram.stylize(content, style, size=size, seed=0, **options)
    wall = time.perf_counter() - started
    measured = stylegram.evaluate([result.image], content=content, style=style).outputs[0]
    return {
        "pair": f"{content.stem}:{style.stem}",
        "wall_s": round(wall, 2),
        "steps": len(result.losses),
        "content_distance": measured["content_distance"],
        "style_distance": measured["style_distance"],
        "style_distance_per_layer": measured["style_distance_per_layer"],
        "run": result.options["run"],
    }


def summarise(runs: list[dict], baseline: list[dict] | None) -> dict:
    summary = {
        key: round(statistics.mean(run[key] for run in runs), 4)
        for key in ("wall_s", "content_distance", "style_distance")
    }
    if baseline is not None:
        summary["pairs_no_worse_than_baseline"] = sum(
            ours["content_distance"] <= theirs["content_distance"]
            and ours["style_distance"] <= theirs["style_distance"]
            for ours, theirs in zip(runs, baseline, strict=True)
        )
        summary["wall_ratio_to_baseline"] = round(summary["wall_s"] / statistics.mean(r["wall_s"] for r in baseline), 3)
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", nargs="*", default=list(VARIANTS), help="names from VARIANTS")
    parser.add_argument("--variant", action="append", default=[], help="NAME=JSON options, added to the variants")
    parser.add_argument("--baseline", default="default", help="the variant the others are compared with")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--only", type=int, help="the first N pairs only (for a quick look)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    variants = {name: VARIANTS[name] for name in args.variants}
    for text in args.variant:
        name, _, options = text.partition("=")
        variants[name] = json.loads(options)
    chosen = pairs()[: args.only]
    results = {}
    for name, options in variants.items():
        runs = [run(options, content, style, args.size) for content, style in chosen]
        results[name] = {"options": options, "runs": runs}
        print(name, summarise(runs, None), flush=True)
    baseline = results.get(args.baseline, {}).get("runs")
    for entry in results.values():
        entry["summary"] = summarise(entry["runs"], baseline)
    save(
        report("gatys_quality", size=args.size, pairs=[r["pair"] for r in baseline or runs], variants=results), args.out
    )


if __name__ == "__main__":
    main()
