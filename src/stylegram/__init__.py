"""stylegram: neural style transfer from the CLI, Python and HTTP.

Example:
    >>> import stylegram
    >>> result = stylegram.stylize("photo.jpg", "painting.jpg", size=256)  # doctest: +SKIP
    >>> result.image.save("out.png")  # doctest: +SKIP
"""

from stylegram.api import preserve_colors, stylize
from stylegram.engines import ProgressEvent, Request, Result, StyleSpec, engine_names, get_engine
from stylegram.errors import InputError, StylegramError, WeightsError
from stylegram.evaluation import EvaluationReport, evaluate
from stylegram.version import __version__

__all__ = [
    "EvaluationReport",
    "InputError",
    "ProgressEvent",
    "Request",
    "Result",
    "StyleSpec",
    "StylegramError",
    "WeightsError",
    "__version__",
    "engine_names",
    "evaluate",
    "get_engine",
    "preserve_colors",
    "stylize",
]
