"""Put a trained style into the package, with its thumbnail, training log and loss curve.

    python scripts/ship_style.py training/runs/starry_night/starry_night.safetensors

Copies the model to ``src/stylegram/weights/styles/<name>.safetensors``, writes ``<name>.jpg`` there (the
network's picture of the Tübingen photo), ``<name>.painting.jpg`` (the painting at 512 px, the style image the
other engines use for this name) and keeps the log ``stylegram train`` wrote beside the model as
``training/logs/<name>.log.json`` with its loss curve ``training/logs/<name>_loss.png``.
"""

import argparse
import itertools
import json
import math
import shutil
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

import stylegram

ROOT = Path(__file__).resolve().parents[1]
STYLES = ROOT / "src" / "stylegram" / "weights" / "styles"
LOGS = ROOT / "training" / "logs"
PAINTING_SIDE = 512


def loss_curve(log: list[dict], path: Path, title: str) -> None:
    """Each loss term of the log (total, style, content, …) per logged step, log scale, drawn with Pillow."""
    width, height, margin = 640, 360, 48
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=12)
    steps = [entry["step"] for entry in log]
    keys = [key for key in log[0] if key not in ("step", "seconds")]
    values = [entry[key] for entry in log for key in keys if entry[key] > 0]
    low, high = math.log10(min(values)), math.log10(max(values))

    def point(step: int, value: float) -> tuple[float, float]:
        x = margin + (width - 2 * margin) * (step - steps[0]) / max(1, steps[-1] - steps[0])
        y = height - margin - (height - 2 * margin) * (math.log10(value) - low) / max(1e-9, high - low)
        return x, y

    draw.rectangle((margin, margin, width - margin, height - margin), outline="grey")
    palette = itertools.cycle(("firebrick", "royalblue", "seagreen", "darkorange", "purple"))
    for key in keys:
        colour = "black" if key == "total" else next(palette)
        draw.line([point(entry["step"], entry[key]) for entry in log if entry[key] > 0], fill=colour, width=2)
        draw.text(point(log[-1]["step"], log[-1][key]), f" {key} {log[-1][key]:.3g}", fill=colour, font=font)
    draw.text((margin, 12), f"{title}: loss per step (log scale), {steps[-1]} steps", fill="black", font=font)
    draw.text((margin, height - margin + 8), f"step {steps[0]}", fill="black", font=font)
    draw.text((width - margin - 60, height - margin + 8), f"step {steps[-1]}", fill="black", font=font)
    image.save(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("--painting", type=Path, help="the style image (default: examples/images/<name>.jpg)")
    args = parser.parse_args()
    name = args.model.stem
    painting = Image.open(args.painting or ROOT / "examples" / "images" / f"{name}.jpg").convert("RGB")
    painting.thumbnail((PAINTING_SIDE, PAINTING_SIDE), Image.Resampling.LANCZOS)
    STYLES.mkdir(parents=True, exist_ok=True)
    LOGS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(args.model, STYLES / f"{name}.safetensors")
    log = json.loads(args.model.with_name(f"{name}.log.json").read_text())
    (LOGS / f"{name}.log.json").write_text(json.dumps(log, indent=1) + "\n")
    loss_curve(log["log"], LOGS / f"{name}_loss.png", name)
    photo = ROOT / "examples" / "images" / "tubingen.jpg"
    result = stylegram.stylize(photo, [], engine="fast", model=str(STYLES / f"{name}.safetensors"), size=320)
    result.image.save(STYLES / f"{name}.jpg", quality=85)
    painting.save(STYLES / f"{name}.painting.jpg", quality=90)
    print(f"shipped {name}: {STYLES / f'{name}.safetensors'}")


if __name__ == "__main__":
    main()
