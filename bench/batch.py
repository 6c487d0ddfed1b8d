"""A batch in one process against a naive loop that runs ``stylegram transfer`` once per item, in one run.

    python bench/batch.py [--photos 40] [--gatys-photos 8]

* fast engine: ``--photos`` photos × 2 shipped styles at 256 px;
* Gatys: ``--gatys-photos`` photos × 2 paintings at 256 px (the engine's defaults).

The one-process batch is ``stylegram batch``'s own code (``stylegram.batch``): the VGG19 encoder, the trained
networks and a painting's targets are loaded once and kept; the naive loop pays Python's start, torch's import
and every load per item. Photos: the validation split of ``../shared/train/photos`` (any photos would do; these
are at hand). Results: ``bench/results/batch.json``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import IMAGES, TRAIN, report, save

from stylegram.batch import plan_batch, stylize_batch
from stylegram.training.data import image_paths

SIZE = 256
CASES = {
    "fast": {"styles": ["starry_night", "mondrian"], "engine": "fast"},
    "gatys": {"styles": [str(IMAGES / "the_scream.jpg"), str(IMAGES / "shipwreck.jpg")], "engine": "gatys"},
}


def naive_loop(photos: list[Path], styles: list[str], engine: str, folder: Path) -> float:
    """Seconds for one ``stylegram transfer`` process per photo × style."""
    started = time.perf_counter()
    for photo in photos:
        for style in styles:
            which = ["--model", style] if engine == "fast" else [style]
            output = folder / f"{photo.stem}_{Path(style).stem}.png"
            command = [sys.executable, "-m", "stylegram", "transfer", str(photo), *which, "--size", str(SIZE)]
            subprocess.run([*command, "-o", str(output), "-q"], check=True, capture_output=True)
    return time.perf_counter() - started


def one_process(photos: list[Path], styles: list[str], engine: str, folder: Path) -> float:
    started = time.perf_counter()
    result = stylize_batch(plan_batch(photos, styles, folder), engine=engine, size=SIZE)
    if result.counts["done"] != len(photos) * len(styles):
        raise SystemExit(f"the batch made {result.counts}")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=40)
    parser.add_argument("--gatys-photos", type=int, default=8)
    args = parser.parse_args()
    every = image_paths(TRAIN / "photos", "validation")
    result = report("batch", size=SIZE)
    for case, counts in (("fast", args.photos), ("gatys", args.gatys_photos)):
        photos = every[:counts]
        styles, engine = CASES[case]["styles"], CASES[case]["engine"]
        items = len(photos) * len(styles)
        with tempfile.TemporaryDirectory() as batch_folder, tempfile.TemporaryDirectory() as loop_folder:
            batch_s = one_process(photos, styles, engine, Path(batch_folder))
            loop_s = naive_loop(photos, styles, engine, Path(loop_folder))
        result[case] = {
            "items": items,
            "photos": len(photos),
            "styles": [Path(style).stem for style in styles],
            "one_process_s": round(batch_s, 2),
            "naive_loop_s": round(loop_s, 2),
            "one_process_items_per_s": round(items / batch_s, 3),
            "naive_loop_items_per_s": round(items / loop_s, 3),
            "speedup": round(loop_s / batch_s, 2),
        }
        print(case, result[case], flush=True)
    save(result)


if __name__ == "__main__":
    main()
