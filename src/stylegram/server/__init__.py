"""The service: a REST API and web page (:mod:`.app`) over a persistent job queue (:mod:`.queue`) whose workers
(:mod:`.worker`) run the same Python API as the CLI."""

from stylegram.server.app import create_app
from stylegram.server.settings import ServiceSettings

__all__ = ["ServiceSettings", "create_app"]
