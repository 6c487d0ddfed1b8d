"""Every artistic control on bench images: a contact sheet to look at, and the eval figures that back it.

    python bench/controls.py [--size 384]

Writes ``docs/images/controls_sheet.jpg`` (one row per control, captions under each picture) and
``bench/results/controls.json``:

* colour preservation: chroma difference to the photo (mean |ΔI| + |ΔQ|) without, with ``luminance`` and with
  ``match``, and with ``luminance`` applied afterwards to the plain result (``stylegram recolor``);
* blended styles: style distance to each painting as the weights move from one to the other;
* regions: style distance of each style inside its region and outside it, for a label map and for ``auto``;
* style scale and strength: content and style distances as the knob turns;
* reproducibility: the same request twice gives the same bytes.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from common import IMAGES, ROOT, report, save
from PIL import Image, ImageDraw, ImageFont

import stylegram
from stylegram.evaluation import evaluate
from stylegram.io.image import image_to_tensor, load_image, resize
from stylegram.ops.masks import segment_regions

PHOTO = IMAGES / "tubingen.jpg"
STARRY = IMAGES / "starry_night.jpg"
SCREAM = IMAGES / "the_scream.jpg"
SHEET = ROOT / "docs" / "images" / "controls_sheet.jpg"
CELL = 300


def label_map(size: tuple[int, int]) -> Image.Image:
    """Left (blue) and right (orange) of a slanted line: a map anyone could paint."""
    width, height = size
    image = Image.new("RGB", size, "orange")
    ImageDraw.Draw(image).polygon([(0, 0), (width * 0.6, 0), (width * 0.4, height), (0, height)], fill="blue")
    return image


def masks_picture(masks: list[np.ndarray]) -> Image.Image:
    colours = np.array([[40, 60, 200], [240, 150, 30], [60, 170, 60]], dtype=np.float32)
    picture = sum(mask[..., None] * colours[index] for index, mask in enumerate(masks))
    return Image.fromarray(np.clip(picture, 0, 255).astype(np.uint8))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=384)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="controls-"))
    timings: dict[str, float] = {}

    def make(name: str, style, **options) -> Path:
        started = time.perf_counter()
        result = stylegram.stylize(PHOTO, style, size=args.size, **options)
        timings[name] = round(time.perf_counter() - started, 1)
        path = work / f"{name}.png"
        result.image.save(path)
        print(f"{name}: {timings[name]} s", flush=True)
        return path

    def figures(path: Path, style: Path, **extra) -> dict:
        return evaluate([path], content=PHOTO, style=style, **extra).outputs[0]

    photo_size = Image.open(PHOTO).size
    map_path = work / "map.png"
    label_map(photo_size).save(map_path)
    blue = work / "blue.png"  # the map's blue region, as a mask for eval
    Image.fromarray(((np.asarray(Image.open(map_path)) == [0, 0, 255]).all(-1) * 255).astype(np.uint8)).save(blue)

    rows: list[tuple[str, list[tuple[Image.Image | Path, str]]]] = []
    results: dict = {}

    # Colour preservation.
    plain = make("color_none", STARRY)
    luminance = make("color_luminance", STARRY, color="luminance")
    match = make("color_match", STARRY, color="match")
    recolored = work / "color_recolor.png"
    stylegram.preserve_colors(plain, PHOTO, "luminance").save(recolored)
    colour = {
        name: {key: figures(path, STARRY)[key] for key in ("chroma_difference", "content_distance", "style_distance")}
        for name, path in (("none", plain), ("luminance", luminance), ("match", match), ("recolor", recolored))
    }
    colour["photo"] = {"chroma_difference": 0.0}
    results["color"] = colour
    rows.append(
        (
            "colour",
            [
                (PHOTO, "photo"),
                (plain, f"none  chroma diff {colour['none']['chroma_difference']:.3f}"),
                (luminance, f"luminance  chroma diff {colour['luminance']['chroma_difference']:.3f}"),
                (match, f"match  chroma diff {colour['match']['chroma_difference']:.3f}"),
                (recolored, f"recolor after  chroma diff {colour['recolor']['chroma_difference']:.3f}"),
            ],
        )
    )

    # Blended styles.
    blends = [(1.0, 0.0), (0.7, 0.3), (0.5, 0.5), (0.3, 0.7), (0.0, 1.0)]
    results["blend"] = []
    cells = []
    for starry_weight, scream_weight in blends:
        if scream_weight == 0:
            path = plain
        else:
            styles = [(STARRY, starry_weight)] * (starry_weight > 0) + [(SCREAM, scream_weight)]
            path = make(f"blend_{starry_weight}", styles)
        starry, scream = figures(path, STARRY), figures(path, SCREAM)
        results["blend"].append(
            {
                "weights": {"starry_night": starry_weight, "the_scream": scream_weight},
                "style_distance_starry_night": starry["style_distance"],
                "style_distance_the_scream": scream["style_distance"],
            }
        )
        cells.append(
            (
                path,
                f"{starry_weight:g}:{scream_weight:g}  d {starry['style_distance']:.2f}/{scream['style_distance']:.2f}",
            )
        )
    rows.append(("blend starry:scream", cells))

    # Regions.
    mapped = make("regions_map", [STARRY, SCREAM], regions=map_path, region_colors=["blue", "orange"])
    automatic = make("regions_auto", [STARRY, SCREAM], regions="auto")
    auto_masks = segment_regions(image_to_tensor(resize(load_image(PHOTO), Image.open(automatic).size)), 2)
    sky = work / "auto_top.png"
    Image.fromarray((auto_masks[0][0, 0].numpy() * 255).astype(np.uint8)).save(sky)
    results["regions"] = {}
    for name, path, mask in (("map", mapped, blue), ("auto", automatic, sky)):
        starry, scream = figures(path, STARRY, mask=mask), figures(path, SCREAM, mask=mask)
        results["regions"][name] = {
            "starry_night (region 1)": {
                "style_distance_in_region": starry["style_distance_in_mask"],
                "style_distance_outside": starry["style_distance_outside_mask"],
            },
            "the_scream (region 2)": {
                "style_distance_in_region": scream["style_distance_outside_mask"],
                "style_distance_outside": scream["style_distance_in_mask"],
            },
        }

    def in_out(name: str) -> str:
        figures_of_starry = results["regions"][name]["starry_night (region 1)"]
        return "starry dist. in/out {:.2f}/{:.2f}".format(*figures_of_starry.values())

    rows.append(
        (
            "regions",
            [
                (Image.open(map_path), "label map: blue starry, orange scream"),
                (mapped, in_out("map")),
                (masks_picture([m[0, 0].numpy() for m in auto_masks]), "auto: k-means colour+position"),
                (automatic, in_out("auto")),
            ],
        )
    )

    # Style scale and strength.
    results["style_scale"], cells = [], []
    for scale in (0.5, 1.0, 2.0):
        path = plain if scale == 1.0 else make(f"scale_{scale}", STARRY, style_scale=scale)
        numbers = figures(path, STARRY)
        results["style_scale"].append(
            {"style_scale": scale, **{k: numbers[k] for k in ("content_distance", "style_distance")}}
        )
        cells.append((path, f"style scale {scale:g}"))
    rows.append(("style scale", cells))
    results["strength"], cells = [], []
    for strength in (0.2, 0.35, 0.5, 0.65, 0.8):
        path = plain if strength == 0.5 else make(f"strength_{strength}", STARRY, strength=strength)
        numbers = figures(path, STARRY)
        results["strength"].append(
            {"strength": strength, **{k: numbers[k] for k in ("content_distance", "style_distance")}}
        )
        cells.append(
            (path, f"{strength:g}: content {numbers['content_distance']:.2f} style {numbers['style_distance']:.2f}")
        )
    rows.append(("strength", cells))

    # Reproducibility: the same request again, compared byte for byte.
    again = make("color_none_again", STARRY)
    results["reproducible"] = Image.open(plain).tobytes() == Image.open(again).tobytes()

    write_sheet(rows)
    save(
        report(
            "controls", size=args.size, photo=PHOTO.name, seconds=timings, sheet=str(SHEET.relative_to(ROOT)), **results
        )
    )


def write_sheet(rows: list[tuple[str, list[tuple[Image.Image | Path, str]]]]) -> None:
    """One row per control: a title on the left, then each picture with its caption below."""
    font = ImageFont.load_default(size=13)
    title_width, caption = 120, 20
    cell_height = round(CELL * 0.75)
    columns = max(len(cells) for _, cells in rows)
    sheet = Image.new("RGB", (title_width + columns * (CELL + 6), len(rows) * (cell_height + caption + 8)), "white")
    draw = ImageDraw.Draw(sheet)
    for row_index, (title, cells) in enumerate(rows):
        top = row_index * (cell_height + caption + 8) + 4
        draw.multiline_text((6, top + cell_height // 2), title.replace(" ", "\n", 1), fill="black", font=font)
        for column, (source, text) in enumerate(cells):
            picture = source if isinstance(source, Image.Image) else Image.open(source)
            picture = picture.convert("RGB")
            picture.thumbnail((CELL, cell_height), Image.Resampling.LANCZOS)
            left = title_width + column * (CELL + 6)
            sheet.paste(picture, (left, top))
            draw.text((left, top + cell_height + 3), text, fill="black", font=font)
    SHEET.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(SHEET, quality=88)


if __name__ == "__main__":
    main()
