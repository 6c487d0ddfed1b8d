"""Outages told once: the disk or Redis failing is logged as one line when it starts and one when it ends, not
as a traceback at every poll of every thread."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable

logger = logging.getLogger("stylegram.server")


class FaultLog:
    """One log line when a repeated operation starts failing (again when the reason changes, and once a minute
    while it lasts), one when it works again: an outage of the disk or of Redis is told once, not as a traceback
    every poll. Where no success is reported (a request handler sees only failures), the minute keeps a later
    outage with the same reason from going unsaid.

    Example:
        >>> import logging, sys
        >>> log = logging.getLogger("faultlog-example")
        >>> log.addHandler(logging.StreamHandler(sys.stdout))
        >>> log.propagate = False
        >>> faults = FaultLog("reading", log)
        >>> for _ in range(3):
        ...     faults.failed(OSError("disk full"))
        reading failed (OSError: disk full)
        >>> faults.recovered()
        reading works again
    """

    def __init__(self, what: str, log: logging.Logger = logger, every_s: float = 60.0) -> None:
        self.what, self.log, self.every_s = what, log, every_s
        self.reason: str | None = None
        self.said_at = 0.0

    def failed(self, error: BaseException) -> None:
        reason = f"{type(error).__name__}: {error}"
        now = time.monotonic()
        if reason != self.reason or now - self.said_at >= self.every_s:
            self.log.error("%s failed (%s)", self.what, reason)
            self.reason, self.said_at = reason, now

    def recovered(self) -> None:
        if self.reason is not None:
            self.log.warning("%s works again", self.what)
            self.reason = None


class RepeatedErrorFilter(logging.Filter):
    """A log filter that lets each of ``messages`` through once a minute per exception type, as one line with the
    exception's text instead of its traceback: Huey's consumer logs "Error reading from queue" with a traceback at
    every poll while Redis is down. Other records pass unchanged.

    Example:
        >>> import logging, sys
        >>> only = RepeatedErrorFilter(["Error reading from queue"])
        >>> def record(message):
        ...     try:
        ...         raise ConnectionError("refused")
        ...     except ConnectionError:
        ...         return logging.LogRecord("huey", logging.ERROR, "", 0, message, (), sys.exc_info())
        >>> first, second = record("Error reading from queue"), record("Error reading from queue")
        >>> only.filter(first), first.getMessage(), first.exc_info, only.filter(second)
        (True, 'Error reading from queue (ConnectionError: refused); said once a minute while it lasts', None, False)
    """

    def __init__(self, messages: Iterable[str], every_s: float = 60.0) -> None:
        super().__init__()
        self.messages, self.every_s = set(messages), every_s
        self._last: dict[tuple[str, str], float] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info is None or record.exc_info[1] is None or str(record.msg) not in self.messages:
            return True
        error = record.exc_info[1]
        key = (str(record.msg), type(error).__name__)
        now = time.monotonic()
        if key in self._last and now - self._last[key] < self.every_s:
            return False
        self._last[key] = now
        record.msg = f"{record.getMessage()} ({type(error).__name__}: {error}); said once a minute while it lasts"
        record.args, record.exc_info, record.exc_text = (), None, None
        return True
