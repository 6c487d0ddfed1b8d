"""``stylegram transfer``, ``batch`` and ``remake``: pictures, one or many, and a picture made again."""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tqdm import tqdm

from stylegram.api import (
    DEFAULT_ENGINE,
    DEFAULT_PATTERN,
    BatchItem,
    ProgressCallback,
    ProgressEvent,
    Result,
    StyleSpec,
    engine_info,
    engine_infos,
    plan_batch,
    remake,
    remake_inputs,
    save_result,
    stylize,
    stylize_batch,
)
from stylegram.cli.common import (
    EXIT_INTERRUPTED,
    ProgressBar,
    add_control_arguments,
    add_option_flags,
    add_output_arguments,
    controls_from_args,
    options_from_args,
    read_arguments,
    whole_number,
)
from stylegram.engines.registry import parse_weighted
from stylegram.errors import InputError
from stylegram.io.image import (
    check_bit_depth,
    check_holds_alpha,
    check_output_path,
    check_quality,
    exif_for,
    save_image,
)


def _iterate_path(output: Path, step: int) -> Path:
    return output.with_name(f"{output.stem}_{step:05d}{output.suffix}")


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
            **controls_from_args(args),
            **options,
        ),
        quality=check_quality(args.output_quality),
        exif=exif_for(args.content, args.exif),
        bit_depth=args.bit_depth,
        regions_output=regions_path(output) if args.save_regions else None,
    )


def engine_options_from_args(args: argparse.Namespace, engine: str) -> dict[str, Any]:
    """The options of ``engine`` given by the engine flags (:func:`add_engine_arguments`); a flag it does not take
    is refused. ``--save-every`` asks an engine that sends previews for them."""
    info = engine_info(engine)
    options = options_from_args(args, info.options, f"the {engine} engine")
    if info.previews and getattr(args, "save_every", 0):
        options["preview_every"] = args.save_every
    return options


def cmd_batch(args: argparse.Namespace) -> int:
    takes_model = engine_info(args.engine).style_input == "model"
    if takes_model and args.styles:
        raise InputError(f"the {args.engine} engine paints trained styles: give them with --model, not --style")
    if not takes_model and args.models:
        raise InputError(f"--model is for the fast engine; {args.engine} takes paintings with --style")
    styles = args.models if takes_model else args.styles
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
            **controls_from_args(args), **engine_options_from_args(args, args.engine),
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


def add_engine_arguments(parser: argparse.ArgumentParser, engines: list[str]) -> None:
    """``--engine`` (one of ``engines``), ``--size``, ``--seed``, ``--device`` and a flag for every engine's every
    option, all from the engines' descriptions; shared by ``transfer`` and ``batch``."""
    parser.add_argument(
        "--engine",
        choices=engines,
        default=DEFAULT_ENGINE,
        help="; ".join(f"{info.name}: {info.summary}" for info in engine_infos() if info.name in engines),
    )
    parser.add_argument("--size", type=whole_number, default=512, help="long side of the output in pixels")
    parser.add_argument("--seed", type=whole_number, default=0, help="random seed (same seed, same picture)")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    add_control_arguments(parser, engine_infos())
    add_option_flags(parser, {info.name: info.options for info in engine_infos()})


def add_parsers(commands: argparse._SubParsersAction, formatter: type) -> None:
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
    add_engine_arguments(transfer, [info.name for info in engine_infos() if info.style_input == "paintings"])
    add_output_arguments(transfer)
    transfer.add_argument(
        "--save-every", type=whole_number, default=0, metavar="N", help="also write every N-th iterate (OUT_00010.png)"
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
    add_engine_arguments(batch, [info.name for info in engine_infos()])
    add_output_arguments(batch)
    batch.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    batch.set_defaults(handler=cmd_batch, save_every=0)

    remake_parser = commands.add_parser(
        "remake", help="make a picture again from the options in its metadata", formatter_class=formatter
    )
    remake_parser.add_argument("picture", help="a PNG written by stylegram transfer")
    remake_parser.add_argument("-o", "--output", required=True, help="where to write the new picture")
    remake_parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    remake_parser.set_defaults(handler=cmd_remake)
