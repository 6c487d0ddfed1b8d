"""Errors that stylegram reports to people rather than as tracebacks.

Every front end (CLI, server) turns a :class:`StylegramError` into a one-line message; the CLI exits with
:attr:`StylegramError.exit_code`.
"""


class StylegramError(Exception):
    """Base class of the errors stylegram explains to its user."""

    exit_code = 1


class InputError(StylegramError, ValueError):
    """A bad file, image, option or output path given by the user (exit code 2)."""

    exit_code = 2


class WeightsError(StylegramError):
    """A network weights file that is missing, damaged or of an unknown layout (exit code 2)."""

    exit_code = 2
