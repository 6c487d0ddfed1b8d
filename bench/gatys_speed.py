"""Seconds per optimisation step of the Gatys engine at several sizes, printed and saved as JSON.

    python bench/gatys_speed.py [--sizes 256 512] [--iterations 20] [--optimizer lbfgs]

Each size runs tubingen × starry_night for a few steps after one warm-up step; the figure is the median of
the per-step wall times taken from the engine's own progress events. Results go to
``bench/results/gatys_speed.json`` with the machine, torch version and thread count.
"""

from __future__ import annotations

import argparse
import itertools
import json
import platform
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path

import torch

import stylegram

ROOT = Path(__file__).resolve().parents[1]
CONTENT = ROOT / "examples" / "images" / "tubingen.jpg"
STYLE = ROOT / "examples" / "images" / "starry_night.jpg"


def machine() -> dict:
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "host": platform.node(),
        "cpu": cpu,
        "cores": torch.get_num_threads(),
        "cuda": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "stylegram": stylegram.__version__,
    }


def measure(size: int, iterations: int, optimizer: str, device: str) -> dict:
    stamps: list[float] = []
    result = stylegram.stylize(
        CONTENT,
        STYLE,
        size=size,
        iterations=iterations + 1,
        optimizer=optimizer,
        device=device,
        on_progress=lambda event: stamps.append(time.perf_counter()),
    )
    steps = [later - earlier for earlier, later in itertools.pairwise(stamps)]
    return {
        "size": list(result.image.size),
        "pixels": result.image.width * result.image.height,
        "optimizer": optimizer,
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
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()

    report = {
        "benchmark": "gatys_speed",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "content": CONTENT.name,
        "style": STYLE.name,
        "results": [measure(size, args.iterations, args.optimizer, args.device) for size in args.sizes],
    }
    text = json.dumps(report, indent=2)
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "gatys_speed.json").write_text(text + "\n")


if __name__ == "__main__":
    main()
