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


class StylegramNotice(UserWarning):
    """Something stylegram adjusted on the user's behalf and says so (a mask resized, …); not an error.

    Issued with :func:`warnings.warn`; the CLI prints each as one ``stylegram: note:`` line.
    """
