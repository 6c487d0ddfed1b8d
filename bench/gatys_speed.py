"""Seconds per optimisation step of the Gatys engine at several sizes, printed and saved as JSON.

    python bench/gatys_speed.py [--sizes 256 512] [--iterations 20] [--precisions auto fp32]

Each size runs tubingen × starry_night at that one scale for a few steps after one warm-up step; the figure is
the median of the per-step wall times taken from the engine's own progress events. Results go to
``bench/results/gatys_speed.json`` with the machine, torch version and thread count.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import time
from pathlib import Path

from common import IMAGES, RESULTS, report, save

import stylegram

CONTENT = IMAGES / "tubingen.jpg"
STYLE = IMAGES / "starry_night.jpg"


def measure(size: int, iterations: int, optimizer: str, device: str, precision: str) -> dict:
    stamps: list[float] = []
    result = stylegram.stylize(
        CONTENT,
        STYLE,
        size=size,
        scales=[size],
        iterations=iterations + 1,
        optimizer=optimizer,
        device=device,
        precision=precision,
        on_progress=lambda event: stamps.append(time.perf_counter()),
    )
    steps = [later - earlier for earlier, later in itertools.pairwise(stamps)]
    return {
        "size": list(result.image.size),
        "pixels": result.image.width * result.image.height,
        "optimizer": optimizer,
        "precision_asked": precision,
        "precision": result.options["precision"],
        "steps_timed": len(steps),
        "seconds_per_step_median": round(statistics.median(steps), 4),
        "seconds_per_step_min": round(min(steps), 4),
        "setup_s": round(result.timings["setup_s"], 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--iterations", type=int, default=20, help="timed steps per size")
    parser.add_argument("--optimizer", default="lbfgs")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--precisions", nargs="+", default=["auto", "fp32"], help="auto: what the engine picks here")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    results = [
        measure(size, args.iterations, args.optimizer, args.device, precision)
        for precision in args.precisions
        for size in args.sizes
    ]
    save(report("gatys_speed", content=CONTENT.name, style=STYLE.name, results=results), args.out)


if __name__ == "__main__":
    main()
