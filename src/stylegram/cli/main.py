"""``stylegram`` on the command line: each subcommand is a small function over the Python API.

Errors the user can fix are printed as one line and exit with status 2; Ctrl-C during a transfer writes the
best picture so far and exits with status 130.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import signal
import socket
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tqdm import tqdm

from stylegram import __version__
from stylegram.api import preserve_colors, remake, remake_inputs, save_result, stylize
from stylegram.batch import DEFAULT_PATTERN, BatchItem, plan_batch, stylize_batch
from stylegram.cpu import cache_dir, cpu_choice, machine_key, max_threads, measure_again
from stylegram.engines import ProgressCallback, ProgressEvent, Result, StyleSpec, engine_names
from stylegram.engines.arbitrary import DEFAULT_STYLE_SIZE, DEFAULT_WORK_SIZE
from stylegram.engines.fast import DEFAULT_MODEL
from stylegram.engines.gatys import INITS, OPTIMIZERS, QUALITY_PRESETS, GatysOptions
from stylegram.engines.regions import draw_regions
from stylegram.errors import InputError, StylegramError, StylegramNotice
from stylegram.evaluation import evaluate, evaluate_video
from stylegram.features.vgg import PREPROCESSINGS
from stylegram.io.files import check_writable
from stylegram.io.image import (
    EXIF_POLICIES,
    check_bit_depth,
    check_holds_alpha,
    check_output_path,
    check_quality,
    exif_for,
    load_image,
    save_image,
)
from stylegram.models.decoder import DECODER_LAYERS
from stylegram.models.export import export_onnx, onnx_difference
from stylegram.models.store import load_style_model, read_style_info, shipped_styles
from stylegram.ops.color import COLOR_METHODS
from stylegram.ops.flow import DEFAULT_TEMPORAL_STRENGTH
from stylegram.ops.losses import STYLE_LOSSES
from stylegram.runtime import LAYOUTS, PRECISIONS
from stylegram.segmentation import MAX_REGIONS
from stylegram.server.settings import DATA_VARIABLE, QUEUE_VARIABLE, TOKEN_VARIABLE, ServiceSettings
from stylegram.training.decoder import DECODER_STYLE_LOSSES, DecoderTrainOptions, train_decoder
from stylegram.training.fast import TrainOptions, train_style
from stylegram.training.run import MODEL_SUFFIXES, TrainResult, checkpoint_path
from stylegram.video import (
    DEFAULT_FIRST_FRAME_ITERATIONS,
    DEFAULT_FRAME_ITERATIONS,
    VIDEO_ENGINES,
    stylize_video,
)

EXIT_INTERRUPTED = 130


def parse_weighted(text: str, what: str) -> tuple[str, float]:
    """Split ``name[:weight]`` (weight 1 when absent); the name may itself contain colons.

    Example:
        >>> parse_weighted("starry.jpg:0.7", "style")
        ('starry.jpg', 0.7)
        >>> parse_weighted("relu4_2", "layer")
        ('relu4_2', 1.0)
    """
    name, separator, weight = text.rpartition(":")
    if not separator:
        return text, 1.0
    try:
        value = float(weight)
    except ValueError:
        return text, 1.0
    if not math.isfinite(value):
        raise InputError(f"{what} weight must be a finite number, got {weight!r} in {text!r}")
    return name, value


def parse_layers(text: str, what: str) -> dict[str, float]:
    """``relu1_1,relu2_1:0.5`` → ``{"relu1_1": 1.0, "relu2_1": 0.5}``."""
    return dict(parse_weighted(item.strip(), f"{what} layer") for item in text.split(",") if item.strip())


def parse_names(text: str | None) -> tuple[str, ...] | None:
    """``relu2_1,relu1_1`` → ``("relu2_1", "relu1_1")``, empty items dropped (``''`` → none); None stays None."""
    return None if text is None else tuple(filter(None, text.split(",")))


def format_layers(layers: dict[str, float]) -> str:
    """The inverse of :func:`parse_layers`, weights shown where they are not 1.

    Example:
        >>> format_layers({"relu4_1": 1.0, "relu5_1": 0.3})
        'relu4_1,relu5_1:0.3'
    """
    return ",".join(name if weight == 1 else f"{name}:{weight:g}" for name, weight in layers.items())


def parse_numbers(text: str | None, what: str) -> list[int] | None:
    """``"128,256,512"`` → ``[128, 256, 512]``; None stays None.

    Example:
        >>> parse_numbers("150, 50,15", "iterations")
        [150, 50, 15]
    """
    if text is None:
        return None
    try:
        return [int(item) for item in text.split(",") if item.strip()]
    except ValueError:
        raise InputError(f"{what} must be comma-separated whole numbers, got {text!r}") from None


def _format_losses(losses: dict[str, float]) -> dict[str, str]:
    return {name: f"{value:.3g}" for name, value in losses.items()}


class ProgressBar:
    """A tqdm bar fed with :class:`ProgressEvent` s; created at the first event, so refused input prints no empty
    bar. Use as a context manager (closes the bar)."""

    def __init__(self, desc: str, unit: str, quiet: bool) -> None:
        self.desc, self.unit, self.quiet = desc, unit, quiet
        self.bar: tqdm | None = None

    def __call__(self, event: ProgressEvent) -> None:
        if self.bar is None:
            self.bar = tqdm(total=event.total, unit=self.unit, desc=self.desc, disable=self.quiet, dynamic_ncols=True)
        self.bar.update(event.step - self.bar.n)
        if event.losses:
            self.bar.set_postfix(_format_losses(event.losses), refresh=False)

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exception) -> None:
        if self.bar is not None:
            self.bar.close()


def _iterate_path(output: Path, step: int) -> Path:
    return output.with_name(f"{output.stem}_{step:05d}{output.suffix}")


ARBITRARY_ENGINES = ("adain", "wct", "efdm", "photo")


#: The arguments that name what a command writes; every other argument may name something it reads.
OUTPUT_ARGUMENTS = ("output", "onnx")


def read_arguments(args: argparse.Namespace) -> list[object]:
    """The values of every argument but the outputs, lists flattened: what :func:`check_output_path` must not
    let an output overwrite."""
    values = []
    for name, value in vars(args).items():
        if name not in OUTPUT_ARGUMENTS:
            values.extend(value if isinstance(value, list) else [value])
    return values


def regions_path(output: Path) -> Path:
    """Where ``--save-regions`` writes the regions of ``output``: ``OUT.regions.png`` beside it."""
    return output.with_name(f"{output.stem}.regions.png")


def cmd_transfer(args: argparse.Namespace) -> int:
    output = check_output_path(args.output, inputs=read_arguments(args))
    if args.save_regions:
        if args.regions is None and args.masks is None:
            raise InputError("--save-regions writes the regions a picture was painted by; give --regions or --masks")
        check_output_path(str(regions_path(output)), inputs=read_arguments(args))
    check_holds_alpha(output, args.content)
    check_bit_depth(output, args.bit_depth)
    if args.model is not None:
        if args.styles:
            raise InputError("give style images or --model, not both: a model paints the style it was trained on")
        engine, styles, options = "fast", [], {"model": args.model, **engine_options_from_args(args, "fast")}
    elif not args.styles:
        raise InputError("give a style image, or --model NAME for a trained style (stylegram styles lists them)")
    else:
        engine = args.engine
        styles = [StyleSpec(*parse_weighted(text, "style")) for text in args.styles]
        options = engine_options_from_args(args, engine)
    return _stylize_to_file(
        output,
        args.quiet,
        lambda on_progress: stylize(
            args.content,
            styles,
            engine=engine,
            size=args.size,
            seed=args.seed,
            device=args.device,
            masks=args.masks,
            style_masks=None if args.style_masks is None else [None if m == "-" else m for m in args.style_masks],
            regions=args.regions,
            region_colors=None if args.region_colors is None else args.region_colors.split(","),
            match_regions=args.match_regions,
            keep_regions=args.keep_regions,
            on_progress=on_progress,
            **options,
        ),
        quality=check_quality(args.output_quality),
        exif=exif_for(args.content, args.exif),
        bit_depth=args.bit_depth,
        regions_output=regions_path(output) if args.save_regions else None,
    )


def engine_options_from_args(args: argparse.Namespace, engine: str) -> dict[str, Any]:
    """The options of ``engine`` from the engine flags (:func:`add_engine_arguments`)."""
    if engine == "fast":
        return {
            "precision": args.precision,
            "tile_size": args.tile_size,
            "color": args.preserve_color,
            "strength": 1.0 if args.strength is None else args.strength,
            "runtime": args.runtime,
        }
    if engine in ARBITRARY_ENGINES:
        return {
            "strength": args.strength,
            "work_size": args.work_size or None,
            "style_size": args.style_size or DEFAULT_STYLE_SIZE,
            "levels": None if args.levels is None else tuple(args.levels.split(",")),
            "finish_levels": parse_names(args.finish_levels),
            "color": args.preserve_color,
            "precision": args.precision,
            "layout": args.layout,
            "tile_size": args.tile_size,
            "decoders": args.decoders,
            "smoothing": args.smoothing,
        }
    steps = parse_numbers(args.iterations, "iterations")
    return {
        "quality": args.quality,
        "scales": parse_numbers(args.scales, "scales"),
        "iterations": steps[0] if steps is not None and len(steps) == 1 else steps,
        "precision": args.precision,
        "layout": args.layout,
        "optimizer": args.optimizer,
        "learning_rate": args.learning_rate,
        "content_weight": args.content_weight,
        "style_weight": args.style_weight,
        "tv_weight": args.tv_weight,
        "content_layers": parse_layers(args.content_layers, "content"),
        "style_layers": parse_layers(args.style_layers, "style"),
        "style_loss": args.style_loss,
        "init": args.init,
        "style_size": args.style_size,
        "style_scale": args.style_scale,
        "strength": args.strength,
        "pooling": args.pooling,
        "weights": args.weights,
        "weights_preprocessing": args.weights_preprocessing,
        "preview_every": args.save_every,
        "tile_size": args.tile_size,
        "color": args.preserve_color,
    }


def cmd_batch(args: argparse.Namespace) -> int:
    if args.engine == "fast" and args.styles:
        raise InputError("the fast engine paints trained styles: give them with --model, not --style")
    if args.engine != "fast" and args.models:
        raise InputError(f"--model is for the fast engine; {args.engine} takes paintings with --style")
    styles = args.models if args.engine == "fast" else args.styles
    if not styles and args.pairs is None:
        raise InputError("give at least one --style painting (or --model for --engine fast), or --pairs")
    Path(args.output).mkdir(parents=True, exist_ok=True)
    items = plan_batch(args.photos, styles or [], args.output, args.pattern, args.pairs)
    check_bit_depth(items[0].output, args.bit_depth)
    stop_requested = []

    def request_stop(*_: object) -> None:
        if stop_requested:  # a second Ctrl-C stops now
            raise KeyboardInterrupt
        stop_requested.append(True)
        print("\nstylegram: stopping after this item (Ctrl-C again to stop now)", file=sys.stderr)

    previous = signal.signal(signal.SIGINT, request_stop)
    bar = tqdm(total=len(items), unit="item", desc="batch", disable=args.quiet, dynamic_ncols=True)

    def on_item(item: BatchItem, _: int) -> None:
        if item.status == "pending":
            bar.set_postfix_str(item.output.name, refresh=True)
        else:
            bar.update(1)

    try:
        result = stylize_batch(
            items, engine=args.engine, size=args.size, seed=args.seed, device=args.device, on_item=on_item,
            should_stop=lambda: bool(stop_requested), quality=check_quality(args.output_quality), exif=args.exif,
            bit_depth=args.bit_depth,
            **engine_options_from_args(args, args.engine),
        )  # fmt: skip
    finally:
        bar.close()
        signal.signal(signal.SIGINT, previous)
    counts = result.counts
    print(f"done {counts['done']}, skipped {counts['skipped']} (made before), failed {counts['failed']}"
          f"{', stopped before the end' if result.stopped else ''}; manifest: {result.manifest}")  # fmt: skip
    for item in result.items:
        if item.status == "failed":
            print(f"  failed: {item.photo} × {item.style}: {item.reason}", file=sys.stderr)
    if result.stopped:
        return EXIT_INTERRUPTED
    return 1 if counts["failed"] else 0


def cmd_remake(args: argparse.Namespace) -> int:
    output = check_output_path(args.output, inputs=[args.picture, *remake_inputs(args.picture)])
    return _stylize_to_file(output, args.quiet, lambda on_progress: remake(args.picture, on_progress=on_progress))


def _stylize_to_file(
    output: Path,
    quiet: bool,
    make: Callable[[ProgressCallback], Result],
    quality: int | None = None,
    exif: bytes | None = None,
    bit_depth: int = 8,
    regions_output: Path | None = None,
) -> int:
    """Run ``make`` with a progress bar (and iterates saved when it attaches previews), write its picture with
    its options as metadata (:func:`~stylegram.api.save_result`) and, to ``regions_output``, the regions it was
    painted by, and report how it went."""
    with ProgressBar("stylize", "it", quiet) as bar:

        def on_progress(event: ProgressEvent) -> None:
            bar(event)
            if event.preview is not None:
                save_image(event.preview, _iterate_path(output, event.step))

        result = make(on_progress)
    save_result(result, output, quality=quality, exif=exif, bit_depth=bit_depth)
    if regions_output is not None and result.regions is not None:
        save_image(result.regions, regions_output)
    if result.interrupted:
        print(
            f"stylegram: interrupted after {len(result.losses)} steps; wrote the best image so far "
            f"(step {result.best_step}) to {output}",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    if "diverged_at_step" in result.options["run"]:
        print(
            f"stylegram: the loss stopped being finite at step {result.options['run']['diverged_at_step']}; "
            f"wrote the best image (step {result.best_step}); try smaller weights",
            file=sys.stderr,
        )
    if not quiet:
        timings = result.timings
        steps = f", best step {result.best_step}, {timings['per_step_s']:.3f} s/step" if result.losses else ""
        print(
            f"wrote {output} ({result.image.width}x{result.image.height}, {timings['total_s']:.1f} s{steps})",
            file=sys.stderr,
        )
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    if args.content is None and args.style is None:
        raise InputError("give --content and/or --style to compare the outputs with")
    report = evaluate(args.outputs, args.content, args.style, size=args.size, mask=args.mask, weights=args.weights)
    for figures in report.outputs:
        print(json.dumps(figures))
    if report.diversity is not None:
        print(json.dumps({"outputs": len(report.outputs), "diversity": report.diversity}))
    return 0


def cmd_recolor(args: argparse.Namespace) -> int:
    output = check_output_path(args.output, inputs=read_arguments(args))
    save_image(preserve_colors(args.picture, args.content, args.method), output)
    return 0


def cmd_regions(args: argparse.Namespace) -> int:
    output = check_output_path(args.output, inputs=read_arguments(args))
    save_image(draw_regions(load_image(args.photo, what="photo"), args.count, seed=args.seed), output)
    return 0


def options_from_args(options_type: type, args: argparse.Namespace, **values: Any) -> Any:
    """An options dataclass filled from the parsed arguments of the same names, then from ``values``."""
    names = {field.name for field in dataclasses.fields(options_type)}
    return options_type(**{name: getattr(args, name) for name in names if hasattr(args, name)} | values)


def cmd_train(args: argparse.Namespace) -> int:
    output = check_output_path(args.output, MODEL_SUFFIXES, inputs=read_arguments(args))
    options = options_from_args(TrainOptions, args, content_layers=parse_layers(args.content_layers, "content"))
    return _train(
        output, args.quiet, lambda bar: train_style(
            args.style, output, args.photos, options, device=args.device, preview_photo=args.preview, on_progress=bar
        ),
    )  # fmt: skip


def cmd_train_decoder(args: argparse.Namespace) -> int:
    output = check_output_path(args.output, MODEL_SUFFIXES, inputs=read_arguments(args))
    options = options_from_args(DecoderTrainOptions, args, style_layers=parse_names(args.style_layers))
    return _train(
        output, args.quiet, lambda bar: train_decoder(
            output, args.photos, args.styles, options, device=args.device, preview_photo=args.preview,
            preview_style=args.preview_style, on_progress=bar,
        ),
    )  # fmt: skip


def _train(output: Path, quiet: bool, train: Callable[[ProgressBar], TrainResult]) -> int:
    """Run ``train`` with a progress bar, write its loss log and command beside the model, and say how it ended."""
    with ProgressBar("train", "step", quiet) as bar:
        result = train(bar)
    log_path = output.with_name(f"{output.stem}.log.json")
    record = {"command": sys.argv, "log": result.log, "validation": result.validation}
    log_path.write_text(json.dumps(record, indent=1) + "\n")
    if result.interrupted:
        print(
            f"stylegram: stopped at step {result.steps_done}; the same command resumes from {checkpoint_path(output)}",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    print(f"wrote {output} ({result.steps_done} steps, {result.seconds / 60:.1f} min)", file=sys.stderr)
    return 0


def cmd_video(args: argparse.Namespace) -> int:
    with ProgressBar("video", "frame", args.quiet) as bar:
        result = stylize_video(
            args.source,
            args.output,
            engine=args.engine,
            model=args.model,
            style=args.style,
            size=args.size,
            iterations=args.iterations,
            first_iterations=args.first_iterations,
            seed=args.seed,
            temporal_strength=0.0 if args.no_temporal else args.temporal_strength,
            strength=args.strength,
            color=args.preserve_color,
            precision=args.precision,
            device=args.device,
            on_progress=bar,
        )
    sound = "with its sound" if result.has_audio else "no sound in the source"
    print(
        f"wrote {result.output} ({result.frames} frames {result.size[0]}x{result.size[1]} at {float(result.fps):g} "
        f"fps, {sound}; {result.frames_per_second:.1f} frames/s)",
        file=sys.stderr,
    )
    return 0


def cmd_eval_video(args: argparse.Namespace) -> int:
    print(json.dumps(evaluate_video(args.source, args.stylized, args.style, weights=args.weights)))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    output = check_output_path(args.onnx, suffixes=(".onnx",), inputs=read_arguments(args))
    net, _ = load_style_model(args.model)
    export_onnx(net, output)
    difference = onnx_difference(net, output)
    print(f"wrote {output}; ONNX Runtime vs PyTorch on a test picture: max difference {difference:.2e}")
    return 0


def cmd_styles(args: argparse.Namespace) -> int:
    styles = shipped_styles()
    for name, path in styles.items():
        info = read_style_info(path)
        trained = info.get("trained", {})
        print(f"{name:16} {trained.get('steps', '?')} steps on {info.get('style', '?')}")
    if not styles:
        print("no trained styles are shipped in this installation", file=sys.stderr)
    return 0


def cmd_probe(args: argparse.Namespace) -> int:
    choice = measure_again() if args.again else cpu_choice()
    record = {"machine": machine_key(max_threads()), "cache": str(cache_dir()), **dataclasses.asdict(choice)}
    print(json.dumps(record, indent=2))
    return 0


def cmd_engines(args: argparse.Namespace) -> int:
    for name in engine_names():
        print(name)
    return 0


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative whole number, got {text}")
    return value


def add_output_arguments(parser: argparse.ArgumentParser) -> None:
    """How pictures are written, shared by ``transfer`` and ``batch``."""
    parser.add_argument("--output-quality", type=int, metavar="1-100", help="JPEG and WebP quality (default 95 / 90)")
    parser.add_argument(
        "--bit-depth", type=int, default=8, metavar="8|16",
        help="bits a channel in the picture: 16 for PNG and TIFF (a 16-bit photo's own detail with --engine photo)",
    )  # fmt: skip
    parser.add_argument(
        "--exif", choices=EXIF_POLICIES, default="keep",
        help="the photo's EXIF in the picture: kept (upright), kept without GPS, or dropped",
    )  # fmt: skip


def add_engine_arguments(
    parser: argparse.ArgumentParser, engines: tuple[str, ...] = ("gatys", *ARBITRARY_ENGINES)
) -> None:
    """The engines' flags, shared by ``transfer`` and ``batch``."""
    defaults = GatysOptions()
    parser.add_argument(
        "--engine",
        choices=engines,
        default="gatys",
        help="for style images: gatys (optimisation, best), adain, wct or efdm (one pass, any painting); "
        "photo: a reference photo's look, kept photographic",
    )
    parser.add_argument(
        "--work-size",
        type=_positive_int,
        default=DEFAULT_WORK_SIZE,
        help="adain/wct/efdm/photo: long side the features are transformed at, then scaled to --size (0: at --size)",
    )
    parser.add_argument(
        "--levels", help="adain/wct/efdm/photo: layers transformed, deepest first (wct: relu4_1,relu1_1)"
    )
    parser.add_argument(
        "--finish-levels",
        help="adain/wct/efdm/photo: shallower layers whitened and coloured afterwards (adain: relu1_1; '' none)",
    )
    parser.add_argument(
        "--decoders", help="adain/wct/efdm/photo: a folder of your own decoders (stylegram train-decoder)"
    )
    parser.add_argument(
        "--smoothing", type=float, metavar="0-1",
        help="adain/wct/efdm/photo: photorealistic smoothing, its window as a fraction of --work-size "
        "(photo: 0.0625; others: 0, none)",
    )  # fmt: skip
    parser.add_argument("--size", type=_positive_int, default=512, help="long side of the output in pixels")
    parser.add_argument(
        "--style-size",
        type=_positive_int,
        help=f"long side of the style image (gatys: --size × --style-scale; one-pass engines: {DEFAULT_STYLE_SIZE})",
    )
    parser.add_argument(
        "--style-scale",
        type=float,
        default=defaults.style_scale,
        help="painting size relative to the output: >1 finer strokes, <1 bigger strokes",
    )
    parser.add_argument(
        "--strength", type=float, help="0 (mostly photo) … 1 (mostly painting); sets --style-weight (0.5 = 5)"
    )
    parser.add_argument(
        "--quality", choices=QUALITY_PRESETS, default=defaults.quality, help="preset of scales and steps per scale"
    )
    parser.add_argument(
        "--scales", help="long sides of the scales, coarse to fine, e.g. 128,256 (the output size is always last)"
    )
    parser.add_argument(
        "--iterations", help="optimiser steps per scale: one number for all, or one per scale (default: preset's)"
    )
    parser.add_argument(
        "--precision", choices=PRECISIONS, default=defaults.precision, help="auto: what this machine runs fastest"
    )
    parser.add_argument(
        "--layout",
        choices=LAYOUTS,
        default=defaults.layout,
        help="memory layout of the convolutions (gatys, adain, wct); auto: what this machine runs fastest",
    )
    parser.add_argument(
        "--tile-size",
        type=_positive_int,
        metavar="N",
        help="pass scales over N px in overlapping tiles (default: only where a whole pass would not fit in memory)",
    )
    parser.add_argument(
        "--preserve-color",
        choices=COLOR_METHODS,
        default=defaults.color,
        help="keep the photo's colours: luminance-only transfer, or the painting recoloured to match the photo",
    )
    parser.add_argument(
        "--runtime", choices=("torch", "onnxruntime"), default="torch", help="what runs a --model network"
    )
    parser.add_argument("--optimizer", choices=OPTIMIZERS, default=defaults.optimizer)
    parser.add_argument("--learning-rate", type=float, default=defaults.learning_rate, help="Adam's step size")
    parser.add_argument("--content-weight", type=float, default=defaults.content_weight, help="α")
    parser.add_argument("--style-weight", type=float, default=defaults.style_weight, help="β")
    parser.add_argument("--tv-weight", type=float, default=defaults.tv_weight, help="total-variation weight")
    parser.add_argument(
        "--content-layers",
        default=format_layers(defaults.content_layers),
        help="comma-separated layers, each optionally LAYER:WEIGHT",
    )
    parser.add_argument(
        "--style-layers",
        default=format_layers(defaults.style_layers),
        help="comma-separated layers, each optionally LAYER:WEIGHT",
    )
    parser.add_argument(
        "--style-loss",
        choices=STYLE_LOSSES,
        default=defaults.style_loss,
        help="compare Gram matrices (gram) or means and covariances (mean_cov: bolder strokes, less photo)",
    )
    parser.add_argument("--init", default=defaults.init, help=f"{', '.join(INITS)} or an image path")
    parser.add_argument("--seed", type=_positive_int, default=0, help="random seed (same seed, same picture)")
    parser.add_argument("--pooling", choices=("max", "avg"), default=defaults.pooling)
    parser.add_argument("--weights", help="your own full-precision VGG19 weights (.safetensors or .pth)")
    parser.add_argument(
        "--weights-preprocessing", choices=PREPROCESSINGS, help="input convention of --weights (default: from keys)"
    )
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")


def build_parser() -> argparse.ArgumentParser:
    formatter = argparse.ArgumentDefaultsHelpFormatter
    parser = argparse.ArgumentParser(prog="stylegram", description="Repaint photos in the style of paintings.")
    parser.add_argument("--version", action="version", version=f"stylegram {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    transfer = commands.add_parser(
        "transfer",
        help="stylize a photo: by optimisation (Gatys et al.), or with --model by a trained network",
        formatter_class=formatter,
    )
    transfer.add_argument("content", help="the photo")
    transfer.add_argument("styles", nargs="*", metavar="STYLE", help="painting(s), each optionally PATH:WEIGHT")
    transfer.add_argument(
        "--model", help="a trained style (name from `stylegram styles`, or a file): one pass, a fraction of a second"
    )
    transfer.add_argument("-o", "--output", required=True, help="output image (.png keeps the options as metadata)")
    transfer.add_argument(
        "--masks", nargs="+", metavar="MASK", help="one mask per style: the part of the photo it paints (white)"
    )
    transfer.add_argument(
        "--regions",
        metavar="MAP|auto|semantic[:K]|subject",
        help="a region map in flat colours, one region per style; auto (colour and position); semantic[:K] "
        "(K regions by meaning: sky, buildings, water...); subject (the main subject, then the rest)",
    )
    transfer.add_argument(
        "--region-colors", metavar="C1,C2", help="each style's colour in the region map (default: dark to light)"
    )
    transfer.add_argument(
        "--match-regions",
        action="store_true",
        help="one painting, split into regions too: each photo region is painted from the painting's most alike",
    )
    transfer.add_argument(
        "--keep-region",
        dest="keep_regions",
        action="append",
        metavar="COLOR",
        help="a colour of the region map where the photo is kept as it is (repeatable)",
    )
    transfer.add_argument(
        "--save-regions", action="store_true", help="also write the regions used as a label map, OUT.regions.png"
    )
    transfer.add_argument(
        "--style-masks", nargs="+", metavar="MASK", help="one per style (- for all): the part of the painting to use"
    )
    add_engine_arguments(transfer)
    add_output_arguments(transfer)
    transfer.add_argument(
        "--save-every", type=_positive_int, default=0, metavar="N", help="also write every N-th iterate (OUT_00010.png)"
    )
    transfer.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    transfer.set_defaults(handler=cmd_transfer)

    batch = commands.add_parser(
        "batch",
        help="stylize folders of photos with every painting (or trained style), resumable",
        formatter_class=formatter,
    )
    batch.add_argument("photos", nargs="+", metavar="PHOTO", help="photos, folders of them, or glob patterns")
    batch.add_argument("--style", dest="styles", action="append", default=[], metavar="PAINTING",
                       help="a painting (repeat for more); every photo is made with every one")  # fmt: skip
    batch.add_argument("--model", dest="models", action="append", default=[], metavar="NAME",
                       help="a trained style for --engine fast (repeat for more)")  # fmt: skip
    batch.add_argument("--pairs", metavar="CSV", help="instead of every photo × style: the photo,style rows of a CSV")
    batch.add_argument(
        "-o", "--output", required=True, metavar="OUTDIR", help="folder of the pictures (made if missing)"
    )
    batch.add_argument("--pattern", default=DEFAULT_PATTERN, help="output names: {photo} and {style} are replaced")
    add_engine_arguments(batch, engines=("fast", "gatys", *ARBITRARY_ENGINES))
    add_output_arguments(batch)
    batch.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    batch.set_defaults(handler=cmd_batch, save_every=0)

    evaluation = commands.add_parser(
        "eval", help="print quality figures of outputs as JSON lines", formatter_class=formatter
    )
    evaluation.add_argument("outputs", nargs="+", metavar="OUTPUT", help="stylized image(s)")
    evaluation.add_argument("--content", help="the photo the outputs were made from")
    evaluation.add_argument("--style", help="the painting")
    evaluation.add_argument(
        "--size", type=_positive_int, help="long side all images are compared at (default: the first output's)"
    )
    evaluation.add_argument("--mask", help="also give the style distance inside and outside this region (white)")
    evaluation.add_argument("--weights", help="your own VGG19 weights")
    evaluation.set_defaults(handler=cmd_eval)

    recolor = commands.add_parser(
        "recolor", help="give a stylized picture the photo's colours back", formatter_class=formatter
    )
    recolor.add_argument("picture", help="stylized picture (from any engine)")
    recolor.add_argument("--content", required=True, help="the photo it was made from")
    recolor.add_argument("-o", "--output", required=True, help="where to write the recoloured picture")
    recolor.add_argument("--method", choices=COLOR_METHODS[1:], default="luminance")
    recolor.set_defaults(handler=cmd_recolor)

    regions = commands.add_parser(
        "regions",
        help="draw a photo's regions by meaning as a label map, to edit and give to transfer --regions",
        formatter_class=formatter,
    )
    regions.add_argument("photo", help="the photo")
    regions.add_argument("-o", "--output", required=True, help="the label map (PNG), one colour per region")
    regions.add_argument("--count", type=int, default=4, help=f"how many regions, 2 to {MAX_REGIONS}")
    regions.add_argument("--seed", type=_positive_int, default=0, help="seeds the clustering")
    regions.set_defaults(handler=cmd_regions)

    remake_parser = commands.add_parser(
        "remake", help="make a picture again from the options in its metadata", formatter_class=formatter
    )
    remake_parser.add_argument("picture", help="a PNG written by stylegram transfer")
    remake_parser.add_argument("-o", "--output", required=True, help="where to write the new picture")
    remake_parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    remake_parser.set_defaults(handler=cmd_remake)

    defaults_train = TrainOptions()
    train = commands.add_parser(
        "train", help="train a fast (feed-forward) network for one painting", formatter_class=formatter
    )
    train.add_argument("--style", required=True, help="the painting")
    train.add_argument("-o", "--output", required=True, help="model file to write (.safetensors)")
    train.add_argument(
        "--photos", nargs="+", default=["data/photos"],
        help="folders of training photos (their training split) or photo files (scripts/build_photo_set.py)",
    )  # fmt: skip
    train.add_argument("--steps", type=_positive_int, default=defaults_train.steps)
    train.add_argument("--batch-size", type=_positive_int, default=defaults_train.batch_size)
    train.add_argument("--image-size", type=_positive_int, default=defaults_train.image_size, help="crop side")
    train.add_argument("--style-size", type=_positive_int, default=defaults_train.style_size)
    train.add_argument("--learning-rate", type=float, default=defaults_train.learning_rate)
    train.add_argument("--content-weight", type=float, default=defaults_train.content_weight)
    train.add_argument("--style-weight", type=float, default=defaults_train.style_weight)
    train.add_argument("--tv-weight", type=float, default=defaults_train.tv_weight)
    train.add_argument(
        "--content-layers", default=format_layers(defaults_train.content_layers), help="LAYER[:WEIGHT],…"
    )
    train.add_argument(
        "--adversarial-weight",
        type=float,
        default=defaults_train.adversarial_weight,
        help="weight of a PatchGAN term (0: none)",
    )
    train.add_argument("--checkpoint-every", type=_positive_int, default=defaults_train.checkpoint_every)
    train.add_argument("--preview", help="a photo to stylize every --preview-every steps (OUT_preview_N.jpg)")
    train.add_argument("--preview-every", type=_positive_int, default=defaults_train.preview_every)
    train.add_argument(
        "--validate-every", type=_positive_int, default=defaults_train.validate_every,
        help="steps between measurements on the photo folders' validation pictures (in OUT.log.json)",
    )  # fmt: skip
    train.add_argument("--seed", type=_positive_int, default=0)
    train.add_argument("--precision", choices=PRECISIONS, default=defaults_train.precision)
    train.add_argument("--device", default="auto")
    train.add_argument("-q", "--quiet", action="store_true")
    train.set_defaults(handler=cmd_train)

    defaults_decoder = DecoderTrainOptions()
    train_dec = commands.add_parser(
        "train-decoder",
        help="train a decoder of the arbitrary-style engines (adain, wct) for one VGG19 layer",
        formatter_class=formatter,
    )
    train_dec.add_argument("--layer", choices=DECODER_LAYERS, default=defaults_decoder.layer)
    train_dec.add_argument("-o", "--output", required=True, help="decoder file to write (.safetensors)")
    train_dec.add_argument(
        "--photos", nargs="+", default=["data/photos"], help="folders of training photos (their training split)"
    )
    train_dec.add_argument(
        "--styles", nargs="+",
        help="paintings, or folders of them (their training split; needed when --style-share is above 0)",
    )  # fmt: skip
    train_dec.add_argument("--steps", type=_positive_int, default=defaults_decoder.steps)
    train_dec.add_argument("--batch-size", type=_positive_int, default=defaults_decoder.batch_size)
    train_dec.add_argument("--image-size", type=_positive_int, default=defaults_decoder.image_size, help="crop side")
    train_dec.add_argument("--learning-rate", type=float, default=defaults_decoder.learning_rate)
    train_dec.add_argument(
        "--style-share", type=float, default=defaults_decoder.style_share,
        help="share of each batch paired with a painting; 0: reconstruction only (WCT decoders)",
    )  # fmt: skip
    train_dec.add_argument("--style-weight", type=float, default=defaults_decoder.style_weight)
    train_dec.add_argument(
        "--style-loss", choices=DECODER_STYLE_LOSSES, default=defaults_decoder.style_loss,
        help="what the style term compares: channel means and deviations, or Gram matrices",
    )  # fmt: skip
    train_dec.add_argument("--pixel-weight", type=float, default=defaults_decoder.pixel_weight)
    train_dec.add_argument(
        "--style-layers", help="comma-separated layers the style term compares (default: relu1_1 up to --layer)"
    )
    train_dec.add_argument("--init", help="a decoder file to start from (train a shipped decoder further)")
    train_dec.add_argument(
        "--tail", help="a decoder file of the next shallower layer to build on: only the deepest block is trained "
        "(stage-wise, reconstruction only; needs --style-share 0)",
    )  # fmt: skip
    train_dec.add_argument("--checkpoint-every", type=_positive_int, default=defaults_decoder.checkpoint_every)
    train_dec.add_argument("--preview", help="a photo to decode every --preview-every steps (OUT_preview_N.jpg)")
    train_dec.add_argument("--preview-style", help="the painting the preview photo is given (default: none)")
    train_dec.add_argument("--preview-every", type=_positive_int, default=defaults_decoder.preview_every)
    train_dec.add_argument(
        "--validate-every", type=_positive_int, default=defaults_decoder.validate_every,
        help="steps between measurements on the folders' validation pictures (in OUT.log.json)",
    )  # fmt: skip
    train_dec.add_argument("--seed", type=_positive_int, default=0)
    train_dec.add_argument("--precision", choices=PRECISIONS, default=defaults_decoder.precision)
    train_dec.add_argument("--device", default="auto")
    train_dec.add_argument("-q", "--quiet", action="store_true")
    train_dec.set_defaults(handler=cmd_train_decoder)

    video = commands.add_parser(
        "video", help="stylize a video clip with a trained style or a painting, without flicker, keeping its sound",
        formatter_class=formatter,
    )  # fmt: skip
    video.add_argument("source", help="the clip")
    video.add_argument("-o", "--output", required=True, help="the stylized clip (.mp4, H.264)")
    video.add_argument(
        "--engine", choices=VIDEO_ENGINES,
        help="fast: a trained style (--model); adain, wct, efdm: any painting (--style) in one pass; gatys: every "
        "frame optimised with a temporal loss, for short clips (default: gatys with --style, else fast)",
    )  # fmt: skip
    video.add_argument("--model", default=DEFAULT_MODEL, help="a trained style (stylegram styles) or a model file")
    video.add_argument("--style", help="a painting, for every engine but fast")
    video.add_argument("--iterations", type=_positive_int, default=DEFAULT_FRAME_ITERATIONS,
                       help="with --style: optimisation steps per frame after the first")  # fmt: skip
    video.add_argument("--first-iterations", type=_positive_int, default=DEFAULT_FIRST_FRAME_ITERATIONS,
                       help="with --style: optimisation steps for the first frame")  # fmt: skip
    video.add_argument("--seed", type=_positive_int, default=0)
    video.add_argument("--size", type=_positive_int, help="long side of the frames (default: the clip's)")
    video.add_argument(
        "--temporal-strength",
        type=float,
        default=DEFAULT_TEMPORAL_STRENGTH,
        help="how much of the previous frame, moved along the motion, goes into the next (0..1)",
    )
    video.add_argument("--no-temporal", action="store_true", help="plain per-frame stylization (flickers)")
    video.add_argument(
        "--strength",
        type=float,
        help="0 (the clip) … 1 (the painting); default: the engine's (1 for fast, 0.5 for gatys)",
    )
    video.add_argument("--preserve-color", choices=COLOR_METHODS, default="none")
    video.add_argument("--precision", choices=PRECISIONS, default="auto")
    video.add_argument("--device", default="auto")
    video.add_argument("-q", "--quiet", action="store_true")
    video.set_defaults(handler=cmd_video)

    eval_video = commands.add_parser(
        "eval-video", help="temporal consistency (warping error) of a stylized clip, as JSON", formatter_class=formatter
    )
    eval_video.add_argument("source", help="the original clip")
    eval_video.add_argument("stylized", help="the stylized clip")
    eval_video.add_argument("--style", help="the painting: also the mean per-frame style distance")
    eval_video.add_argument("--weights", help="your own VGG19 weights")
    eval_video.set_defaults(handler=cmd_eval_video)

    export = commands.add_parser("export", help="write a trained style as an ONNX model (dynamic height and width)")
    export.add_argument("model", help="a shipped style's name or a model file")
    export.add_argument("--onnx", required=True, metavar="OUT.onnx", help="where to write the ONNX model")
    export.set_defaults(handler=cmd_export)

    styles = commands.add_parser("styles", help="list the trained styles for transfer --model")
    styles.set_defaults(handler=cmd_styles)

    serve = commands.add_parser(
        "serve", help="the REST API and web page, with workers and a persistent job queue", formatter_class=formatter
    )
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes started beside the server (0: "
        "none, for workers started elsewhere with `stylegram worker`)",
    )
    serve.add_argument("--token", help=f"require this API token (default: ${TOKEN_VARIABLE}, else none)")
    serve.add_argument(
        "--stale-after",
        type=float,
        default=ServiceSettings.stale_after_s,
        metavar="SECONDS",
        help="retry a job on another worker when its worker is silent this long",
    )
    serve.add_argument(
        "--allowed-host",
        action="append",
        metavar="NAME",
        help="a host name the server answers to besides localhost, 127.0.0.1, ::1 and --host (repeatable; * any)",
    )
    serve.add_argument(
        "--allowed-origin",
        action="append",
        metavar="URL",
        help="a web page origin (scheme://host:port) besides the server's own that may send jobs (repeatable)",
    )
    _add_service_options(serve)
    serve.set_defaults(handler=cmd_serve)

    worker = commands.add_parser("worker", help="take jobs from a server's queue", formatter_class=formatter)
    worker.add_argument("--threads", type=int, default=1, help="jobs run at once in this process")
    worker.add_argument("--parent-pid", type=int, help=argparse.SUPPRESS)
    _add_service_options(worker)
    worker.set_defaults(handler=cmd_worker)

    probe = commands.add_parser(
        "probe", help="show what this machine runs fastest (precision, layout, threads), measured once and cached"
    )
    probe.add_argument("--again", action="store_true", help="measure again, whatever the cache holds")
    probe.set_defaults(handler=cmd_probe)

    engines = commands.add_parser("engines", help="list the available engines")
    engines.set_defaults(handler=cmd_engines)
    return parser


#: ``--host`` values that listen on every address rather than name one.
WILDCARD_HOSTS = ("0.0.0.0", "::", "")


def _service_settings(args: argparse.Namespace) -> ServiceSettings:
    """The settings from the options, refused with one line where they cannot work."""
    serving = {}
    if args.command == "serve":
        if not math.isfinite(args.stale_after) or args.stale_after <= 0:
            raise InputError(f"--stale-after must be a positive number of seconds, got {args.stale_after:g}")
        named = [] if args.host in WILDCARD_HOSTS else [args.host]
        serving = {
            "token": args.token,
            "stale_after_s": args.stale_after,
            "allowed_hosts": (*ServiceSettings.allowed_hosts, *named, *(args.allowed_host or [])),
            "allowed_origins": tuple(args.allowed_origin or []),
        }
    settings = ServiceSettings.from_environment(data_dir=args.data, queue=args.queue, **serving)
    if args.command == "serve" or settings.queue is None:  # a worker on Redis needs no disk
        _check_data_dir(settings.data_dir)
    return settings


def _check_data_dir(folder: Path) -> None:
    if folder.exists() and not folder.is_dir():
        raise InputError(f"--data must be a directory; {folder} is a file")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        check_writable(folder / "probe")
    except OSError as error:
        raise InputError(f"cannot write to the data directory {folder}: {error.strerror or error}") from None


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from stylegram.server import create_app
    from stylegram.server.worker import WorkerPool

    if not 0 < args.port < 65536:
        raise InputError(f"--port must be between 1 and 65535, got {args.port}")
    if args.workers < 0:
        raise InputError(f"--workers must be 0 or more, got {args.workers}")
    settings = _service_settings(args)
    with socket.socket() as probe:
        try:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((args.host, args.port))
        except OSError as error:
            raise InputError(f"cannot listen on {args.host}:{args.port}: {error.strerror or error}") from None
    app = create_app(settings)
    workers = WorkerPool(settings, args.workers)
    workers.start()
    print(
        f"stylegram: serving http://{args.host}:{args.port}/ (API docs at /docs), data in {settings.data_dir}, "
        f"queue {app.state.service.queue.describe()}, {args.workers} worker(s)",
        file=sys.stderr,
    )
    try:
        uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    finally:
        workers.stop()
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from stylegram.server.worker import run_worker

    if args.threads < 1:
        raise InputError(f"--threads must be 1 or more, got {args.threads}")
    run_worker(_service_settings(args), threads=args.threads, parent_pid=args.parent_pid)
    return 0


def _add_service_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data",
        metavar="DIR",
        help=f"job records, uploads, results, the SQLite queue (default: ${DATA_VARIABLE} or ./stylegram-data)",
    )
    parser.add_argument(
        "--queue",
        metavar="URL",
        help=f"redis://host:port/db to spread work over machines "
        f"(default: ${QUEUE_VARIABLE}, else SQLite in the data directory)",
    )


def _print_notice(message, category, filename, lineno, file=None, line=None) -> None:
    if issubclass(category, StylegramNotice):
        print(f"stylegram: note: {message}", file=sys.stderr)
    else:
        sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    warnings.showwarning = _print_notice
    # `kill` (SIGTERM) stops a command as Ctrl-C does: a transfer writes its best picture, a training run its
    # checkpoint, a video removes its half-written file. (serve and worker install their own handlers.)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        return args.handler(args)
    except StylegramError as error:
        print(f"stylegram: error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("stylegram: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except MemoryError:
        print("stylegram: error: out of memory; try a smaller --size", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
