"""Seconds per optimisation step of the Gatys engine at several sizes, precisions and layouts, as JSON.

    python bench/gatys_speed.py [--sizes 256 512] [--iterations 20] [--configs auto/auto fp32/contiguous ...]

Each size runs tubingen × starry_night at that one scale for a few steps after one warm-up step; the figure is
the median of the per-step wall times taken from the engine's own progress events. ``auto/auto`` is what the
engine picks on this machine (``stylegram.cpu``; the probe's own figures are in the JSON). ``tflops`` is the
convolutions' arithmetic (four times ``convolution_macs``: forward, and backward to the picture) per second of
a whole step, Gram matrices, losses and L-BFGS included; ``probe_tflops`` is the same for the probe's best
configuration at its 160×120 picture. Results go to ``bench/results/gatys_speed.json``.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import time
from pathlib import Path

from common import IMAGES, RESULTS, report, save

import stylegram
from stylegram.cpu import PROBE_SIZE, cpu_choice
from stylegram.features.vgg import convolution_macs

CONTENT = IMAGES / "tubingen.jpg"
STYLE = IMAGES / "starry_night.jpg"


def measure(size: int, iterations: int, optimizer: str, device: str, precision: str, layout: str) -> dict:
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
        layout=layout,
        on_progress=lambda event: stamps.append(time.perf_counter()),
    )
    steps = [later - earlier for earlier, later in itertools.pairwise(stamps)]
    flops = 4 * convolution_macs(*result.image.size)
    return {
        "size": list(result.image.size),
        "pixels": result.image.width * result.image.height,
        "optimizer": optimizer,
        "asked": f"{precision}/{layout}",
        "precision": result.options["run"]["precision"],
        "layout": result.options["run"]["layout"],
        "steps_timed": len(steps),
        "seconds_per_step_median": round(statistics.median(steps), 4),
        "seconds_per_step_min": round(min(steps), 4),
        "gflop_per_step": round(flops / 1e9, 1),
        "tflops": round(flops / statistics.median(steps) / 1e12, 3),
        "setup_s": round(result.timings["setup_s"], 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--iterations", type=int, default=20, help="timed steps per size")
    parser.add_argument("--optimizer", default="lbfgs")
    parser.add_argument("--device", default="auto")
    parser.add_argument(
        "--configs",
        nargs="+",
        default=["auto/auto", "fp32/contiguous", "fp32/channels_last", "bf16/contiguous", "bf16/channels_last"],
        help="PRECISION/LAYOUT; auto/auto: what the engine picks here",
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    choice = cpu_choice()
    best = min(choice.seconds.values())
    probe = {**{key: getattr(choice, key) for key in ("precision", "layout", "threads", "seconds")},
             "probe_tflops": round(4 * convolution_macs(*PROBE_SIZE) / best / 1e12, 3)}  # fmt: skip
    results = [
        measure(size, args.iterations, args.optimizer, args.device, *config.split("/"))
        for config in args.configs
        for size in args.sizes
    ]
    save(report("gatys_speed", content=CONTENT.name, style=STYLE.name, probe=probe, results=results), args.out)


if __name__ == "__main__":
    main()
