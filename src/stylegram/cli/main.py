"""``stylegram`` on the command line: a module per command family, each a thin layer over :mod:`stylegram.api`.

Errors the user can fix are printed as one line and exit with status 2; Ctrl-C during a transfer writes the
best picture so far and exits with status 130.
"""

from __future__ import annotations

import argparse
import signal
import sys
import warnings

from stylegram.cli import serve, tools, train, transfer, video
from stylegram.cli.common import EXIT_INTERRUPTED
from stylegram.errors import StylegramError, StylegramNotice
from stylegram.version import __version__

#: The command families, in the order ``stylegram --help`` lists their commands.
FAMILIES = (transfer, tools, train, video, serve)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stylegram", description="Repaint photos in the style of paintings.")
    parser.add_argument("--version", action="version", version=f"stylegram {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for family in FAMILIES:
        family.add_parsers(commands, argparse.ArgumentDefaultsHelpFormatter)
    return parser


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
