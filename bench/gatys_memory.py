"""Peak memory (RSS) and wall time of default Gatys runs from 512 px to 3840x2160, printed and saved as JSON.

    python bench/gatys_memory.py [--sizes 512 1024 2048 3840x2160] [--quality normal]

Each size runs in a child process of its own, so every peak is that run's alone (``ru_maxrss`` of the child).
A size ``WxH`` centre-crops the photo to that aspect first. The photo (1024x768) is upsampled to big sizes:
the point is memory and time, not detail. ``bytes_per_pixel`` is the least-squares slope of peak RSS against
output pixels; ``tiles`` per scale shows where the engine switched to tiled passes. Results go to
``bench/results/gatys_memory.json``; the pictures to ``bench/results/memory/``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from common import IMAGES, RESULTS, report, save

CONTENT = IMAGES / "tubingen.jpg"
STYLE = IMAGES / "starry_night.jpg"


def parse_size(text: str) -> tuple[int, int | None]:
    """``"2048"`` → (2048, None): long side only; ``"3840x2160"`` → (3840, 2160)."""
    width, _, height = text.partition("x")
    return int(width), int(height) if height else None


def child(size_text: str, quality: str, output: Path) -> None:
    """Run one default stylization and print its figures as JSON (runs in its own process)."""
    import resource

    from PIL import Image

    import stylegram

    width, height = parse_size(size_text)
    photo = Image.open(CONTENT).convert("RGB")
    if height is not None:
        keep = min(photo.width, round(photo.height * width / height))
        crop_height = round(keep * height / width)
        left, top = (photo.width - keep) // 2, (photo.height - crop_height) // 2
        photo = photo.crop((left, top, left + keep, top + crop_height))
    started = time.perf_counter()
    result = stylegram.stylize(photo, STYLE, size=width, quality=quality)
    wall = time.perf_counter() - started
    result.image.save(output)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(
        json.dumps(
            {
                "size": list(result.image.size),
                "pixels": result.image.width * result.image.height,
                "wall_s": round(wall, 1),
                "peak_rss_gib": round(peak / 2**30, 2),
                "peak_rss_bytes": peak,
                "scales": [
                    {"size": s["size"], "steps": s["steps"], "tiles": s["tiles"], "seconds": round(s["seconds"], 1)}
                    for s in result.timings["scales"]
                ],
                "output": str(output.relative_to(RESULTS.parent.parent)),
            }
        )
    )


def slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of y against x."""
    mean_x = sum(x for x, _ in points) / len(points)
    mean_y = sum(y for _, y in points) / len(points)
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / sum((x - mean_x) ** 2 for x, _ in points)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", default=["512", "1024", "2048", "3840x2160"])
    parser.add_argument("--quality", default="normal")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    pictures = RESULTS / "memory"
    if args.child:
        child(args.child, args.quality, pictures / f"tubingen_starry_night_{args.child}.png")
        return
    pictures.mkdir(parents=True, exist_ok=True)
    runs = []
    for size in args.sizes:
        command = [sys.executable, __file__, "--child", size, "--quality", args.quality]
        completed = subprocess.run(command, capture_output=True, text=True, check=True)
        runs.append(json.loads(completed.stdout.strip().splitlines()[-1]))
        print(json.dumps(runs[-1]), file=sys.stderr)
    points = [(run["pixels"], run["peak_rss_bytes"]) for run in runs]
    growth = round(slope(points)) if len(points) > 1 else None
    save(
        report(
            "gatys_memory",
            content=CONTENT.name,
            style=STYLE.name,
            quality=args.quality,
            runs=runs,
            bytes_per_pixel=growth,
        )
    )


if __name__ == "__main__":
    main()
