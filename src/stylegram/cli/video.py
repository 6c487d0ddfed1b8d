"""``stylegram video`` and ``eval-video``: a clip stylized without flicker, and how steady a stylized clip is."""

from __future__ import annotations

import argparse
import json
import sys

from stylegram.api import (
    DEFAULT_FIRST_FRAME_ITERATIONS,
    DEFAULT_FRAME_ITERATIONS,
    DEFAULT_MODEL,
    DEFAULT_TEMPORAL_STRENGTH,
    engine_infos,
    evaluate_video,
    stylize_video,
)
from stylegram.cli.common import ProgressBar, add_control_arguments, controls_from_args, whole_number


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
            device=args.device,
            **controls_from_args(args),
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


def add_parsers(commands: argparse._SubParsersAction, formatter: type) -> None:
    video = commands.add_parser(
        "video", help="stylize a video clip with a trained style or a painting, without flicker, keeping its sound",
        formatter_class=formatter,
    )  # fmt: skip
    video.add_argument("source", help="the clip")
    video.add_argument("-o", "--output", required=True, help="the stylized clip (.mp4, H.264)")
    makers = [info for info in engine_infos() if info.video is not None]
    video.add_argument(
        "--engine", choices=[info.name for info in makers],
        help="; ".join(f"{info.name}: {info.summary} ({'--model' if info.style_input == 'model' else '--style'}"
                       f"{', every frame optimised' if info.video == 'optimise' else ''})" for info in makers)
        + " (default: gatys with --style, else fast)",
    )  # fmt: skip
    video.add_argument("--model", default=DEFAULT_MODEL, help="a trained style (stylegram styles) or a model file")
    video.add_argument("--style", help="a painting, for every engine but fast")
    video.add_argument("--iterations", type=whole_number, default=DEFAULT_FRAME_ITERATIONS,
                       help="with --style: optimisation steps per frame after the first")  # fmt: skip
    video.add_argument("--first-iterations", type=whole_number, default=DEFAULT_FIRST_FRAME_ITERATIONS,
                       help="with --style: optimisation steps for the first frame")  # fmt: skip
    video.add_argument("--seed", type=whole_number, default=0)
    video.add_argument("--size", type=whole_number, help="long side of the frames (default: the clip's)")
    video.add_argument(
        "--temporal-strength",
        type=float,
        default=DEFAULT_TEMPORAL_STRENGTH,
        help="how much of the previous frame, moved along the motion, goes into the next (0..1)",
    )
    video.add_argument("--no-temporal", action="store_true", help="plain per-frame stylization (flickers)")
    add_control_arguments(video, makers)
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
