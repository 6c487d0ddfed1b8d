"""``stylegram train`` and ``train-decoder``: a fast network for one painting, a decoder for the one-pass engines.

Both resume from their checkpoint when run again with the same command, and write their loss log beside the
model.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from stylegram.api import (
    DECODER_LAYERS,
    DECODER_STYLE_LOSSES,
    MODEL_SUFFIXES,
    PRECISIONS,
    DecoderTrainOptions,
    TrainOptions,
    TrainResult,
    checkpoint_path,
    train_decoder,
    train_style,
)
from stylegram.cli.common import EXIT_INTERRUPTED, ProgressBar, read_arguments, whole_number
from stylegram.engines.registry import format_layers, parse_layers, parse_names
from stylegram.io.image import check_output_path


def _options(options_type: type, args: argparse.Namespace, **values: Any) -> Any:
    """An options dataclass filled from the parsed arguments of the same names, then from ``values``."""
    names = {field.name for field in dataclasses.fields(options_type)}
    return options_type(**{name: getattr(args, name) for name in names if hasattr(args, name)} | values)


def cmd_train(args: argparse.Namespace) -> int:
    output = check_output_path(args.output, MODEL_SUFFIXES, inputs=read_arguments(args))
    options = _options(TrainOptions, args, content_layers=parse_layers(args.content_layers, "content"))
    return _train(
        output, args.quiet, lambda bar: train_style(
            args.style, output, args.photos, options, device=args.device, preview_photo=args.preview, on_progress=bar
        ),
    )  # fmt: skip


def cmd_train_decoder(args: argparse.Namespace) -> int:
    output = check_output_path(args.output, MODEL_SUFFIXES, inputs=read_arguments(args))
    options = _options(DecoderTrainOptions, args, style_layers=parse_names(args.style_layers))
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


def add_parsers(commands: argparse._SubParsersAction, formatter: type) -> None:
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
    train.add_argument("--style-size", type=whole_number, default=defaults_train.style_size)
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
    _add_run_arguments(train, defaults_train, "a photo to stylize every --preview-every steps (OUT_preview_N.jpg)",
                       "the photo folders' validation pictures")  # fmt: skip
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
    train_dec.add_argument("--preview-style", help="the painting the preview photo is given (default: none)")
    _add_run_arguments(train_dec, defaults_decoder, "a photo to decode every --preview-every steps (OUT_preview_N.jpg)",
                       "the folders' validation pictures")  # fmt: skip
    train_dec.set_defaults(handler=cmd_train_decoder)


def _add_run_arguments(parser: argparse.ArgumentParser, defaults: Any, preview: str, validation: str) -> None:
    """What every training run takes: steps and crops, checkpoints, previews, validation, seed, precision, device."""
    parser.add_argument("--steps", type=whole_number, default=defaults.steps)
    parser.add_argument("--batch-size", type=whole_number, default=defaults.batch_size)
    parser.add_argument("--image-size", type=whole_number, default=defaults.image_size, help="crop side")
    parser.add_argument("--learning-rate", type=float, default=defaults.learning_rate)
    parser.add_argument("--checkpoint-every", type=whole_number, default=defaults.checkpoint_every)
    parser.add_argument("--preview", help=preview)
    parser.add_argument("--preview-every", type=whole_number, default=defaults.preview_every)
    parser.add_argument(
        "--validate-every", type=whole_number, default=defaults.validate_every,
        help=f"steps between measurements on {validation} (in OUT.log.json)",
    )  # fmt: skip
    parser.add_argument("--seed", type=whole_number, default=0)
    parser.add_argument("--precision", choices=PRECISIONS, default=defaults.precision)
    parser.add_argument("--device", default="auto")
    parser.add_argument("-q", "--quiet", action="store_true")
