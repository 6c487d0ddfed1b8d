"""The smaller commands: ``eval``, ``recolor``, ``regions``, ``export``, ``styles``, ``probe`` and ``engines``."""

from __future__ import annotations

import argparse
import json
import sys

from stylegram.api import (
    COLOR_METHODS,
    MAX_REGIONS,
    engine_infos,
    evaluate,
    export_style,
    find_regions,
    machine_choice,
    preserve_colors,
    style_list,
)
from stylegram.cli.common import read_arguments, whole_number
from stylegram.errors import InputError
from stylegram.io.image import check_output_path, save_image


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
    save_image(find_regions(args.photo, args.count, seed=args.seed), output)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    output = check_output_path(args.onnx, suffixes=(".onnx",), inputs=read_arguments(args))
    difference = export_style(args.model, output)
    print(f"wrote {output}; ONNX Runtime vs PyTorch on a test picture: max difference {difference:.2e}")
    return 0


def cmd_styles(args: argparse.Namespace) -> int:
    styles = style_list()
    for name, info in styles.items():
        trained = info.get("trained", {})
        print(f"{name:16} {trained.get('steps', '?')} steps on {info.get('style', '?')}")
    if not styles:
        print("no trained styles are shipped in this installation", file=sys.stderr)
    return 0


def cmd_probe(args: argparse.Namespace) -> int:
    print(json.dumps(machine_choice(again=args.again), indent=2))
    return 0


def cmd_engines(args: argparse.Namespace) -> int:
    for info in engine_infos():
        makes = ", ".join(
            what for what, able in (("regions", info.regions), ("video", info.video), ("live", info.live)) if able
        )
        paints = "a trained style (--model)" if info.style_input == "model" else f"{info.style_noun}s"
        print(f"{info.name:8} {info.summary}; paints from {paints}{'; also ' + makes if makes else ''}")
    return 0


def add_parsers(commands: argparse._SubParsersAction, formatter: type) -> None:
    evaluation = commands.add_parser(
        "eval", help="print quality figures of outputs as JSON lines", formatter_class=formatter
    )
    evaluation.add_argument("outputs", nargs="+", metavar="OUTPUT", help="stylized image(s)")
    evaluation.add_argument("--content", help="the photo the outputs were made from")
    evaluation.add_argument("--style", help="the painting")
    evaluation.add_argument(
        "--size", type=whole_number, help="long side all images are compared at (default: the first output's)"
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
    regions.add_argument("--seed", type=whole_number, default=0, help="seeds the clustering")
    regions.set_defaults(handler=cmd_regions)

    export = commands.add_parser("export", help="write a trained style as an ONNX model (dynamic height and width)")
    export.add_argument("model", help="a shipped style's name or a model file")
    export.add_argument("--onnx", required=True, metavar="OUT.onnx", help="where to write the ONNX model")
    export.set_defaults(handler=cmd_export)

    styles = commands.add_parser("styles", help="list the trained styles for transfer --model")
    styles.set_defaults(handler=cmd_styles)

    probe = commands.add_parser(
        "probe", help="show what this machine runs fastest (precision, layout, threads), measured once and cached"
    )
    probe.add_argument("--again", action="store_true", help="measure again, whatever the cache holds")
    probe.set_defaults(handler=cmd_probe)

    engines = commands.add_parser("engines", help="list the available engines")
    engines.set_defaults(handler=cmd_engines)
