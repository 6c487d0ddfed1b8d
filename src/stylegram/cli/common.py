"""What the command families share: the progress bar, argument types, and flags made from options dataclasses."""

from __future__ import annotations

import argparse
import dataclasses
import typing
from typing import Any

from tqdm import tqdm

from stylegram.api import COLOR_METHODS, PRECISIONS, EngineInfo, ProgressEvent
from stylegram.engines.registry import format_layers
from stylegram.errors import InputError
from stylegram.io.image import EXIF_POLICIES

EXIT_INTERRUPTED = 130


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
            self.bar.set_postfix({name: f"{value:.3g}" for name, value in event.losses.items()}, refresh=False)

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exception) -> None:
        if self.bar is not None:
            self.bar.close()


#: The arguments that name what a command writes; every other argument may name something it reads.
OUTPUT_ARGUMENTS = ("output", "onnx")


def read_arguments(args: argparse.Namespace) -> list[object]:
    """The values of every argument but the outputs, lists flattened: what
    :func:`~stylegram.io.image.check_output_path` must not let an output overwrite."""
    values = []
    for name, value in vars(args).items():
        if name not in OUTPUT_ARGUMENTS:
            values.extend(value if isinstance(value, list) else [value])
    return values


def whole_number(text: str) -> int:
    """An argument type: a whole number of at least 0."""
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


def add_control_arguments(parser: argparse.ArgumentParser, infos: list[EngineInfo]) -> None:
    """The controls every engine shares (on the request, not in an engine's options): strength, colour, precision."""
    meanings: dict[str, list[str]] = {}
    for info in infos:
        meanings.setdefault(info.strength_meaning, []).append(info.name)
    parser.add_argument(
        "--strength",
        type=float,
        help="0 (the photo) … 1 (the painting); default: each engine's. It sets, for "
        + "; ".join(f"{', '.join(names)}: {meaning}" for meaning, names in meanings.items()),
    )
    parser.add_argument(
        "--preserve-color",
        dest="color",
        choices=COLOR_METHODS,
        default="none",
        help="keep the photo's colours: luminance (the style on luminance only) or match (the painting recoloured "
        "to the photo's colours)",
    )
    parser.add_argument(
        "--precision", choices=PRECISIONS, default="auto", help="auto: what this machine runs fastest (measured once)"
    )


def controls_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """The shared controls given by :func:`add_control_arguments`, as the request's arguments."""
    return {"strength": args.strength, "color": args.color, "precision": args.precision}


def add_option_flags(parser: argparse.ArgumentParser, owners: dict[str, type]) -> None:
    """A flag for every option of the options dataclasses ``owners`` (by who takes them, e.g. engine names),
    from the fields' metadata (:func:`~stylegram.engines.registry.option`). A flag several owners take is made
    once, its help given per owner where their helps differ. Flags left out are absent from the parsed arguments,
    so each owner's own defaults hold; :func:`options_from_args` reads them back."""
    takers: dict[str, list[tuple[str, type, dataclasses.Field]]] = {}
    for owner, options in owners.items():
        for item in dataclasses.fields(options):
            flag = item.metadata.get("flag", "")
            if flag is not None:
                takers.setdefault(flag or "--" + item.name.replace("_", "-"), []).append((owner, options, item))
    for flag, fields in takers.items():
        _, options, item = fields[0]
        parser.add_argument(
            flag,
            dest=item.name,
            default=argparse.SUPPRESS,
            type=_flag_type(options, item),
            choices=item.metadata.get("choices"),
            metavar=item.metadata.get("metavar"),
            help=_flag_help(fields, len(owners)).replace("%", "%%"),
        )
    known = parser.get_default("option_flags") or {}
    parser.set_defaults(option_flags=known | {fields[0][2].name: flag for flag, fields in takers.items()})


def options_from_args(args: argparse.Namespace, options: type, owner: str) -> dict[str, Any]:
    """The values of ``options``' fields given on the command line (parsed as their metadata says).

    Raises:
        InputError: a flag was given that ``owner`` (e.g. "the adain engine") does not take.
    """
    given, names = vars(args), {item.name for item in dataclasses.fields(options)}
    for name, flag in args.option_flags.items():
        if name in given and name not in names:
            raise InputError(f"{flag} is not an option of {owner}")
    values = {}
    for item in dataclasses.fields(options):
        if item.name in given and item.name in args.option_flags:
            parse = item.metadata.get("parse")
            values[item.name] = parse(given[item.name]) if parse else given[item.name]
    return values


def _flag_type(options: type, item: dataclasses.Field) -> Any:
    if item.metadata.get("parse"):
        return str  # parsed by options_from_args, whose errors are one line, not a usage message
    hint = typing.get_type_hints(options)[item.name]
    kinds = set(typing.get_args(hint)) - {type(None)} or {hint}
    return {frozenset({int}): whole_number, frozenset({float}): float}.get(frozenset(kinds), str)


def _flag_help(fields: list[tuple[str, type, dataclasses.Field]], owners: int) -> str:
    helps: dict[str, list[str]] = {}
    for owner, _, item in fields:
        helps.setdefault(item.metadata.get("help", "") + _shown_default(item), []).append(owner)
    if len(helps) == 1 and len(fields) == owners:
        return next(iter(helps))
    return "; ".join(f"{', '.join(names)}: {text}" for text, names in helps.items())


def _shown_default(item: dataclasses.Field) -> str:
    default = item.default_factory() if item.default_factory is not dataclasses.MISSING else item.default
    if default is None or default == "":
        return ""
    if isinstance(default, dict):
        return f" (default: {format_layers(default)})"
    if isinstance(default, tuple | list):
        return f" (default: {','.join(map(str, default))})"
    return f" (default: {default:g})" if isinstance(default, float) else f" (default: {default})"
