"""The service: a REST API and web page (:mod:`.app`) over a persistent job queue (:mod:`.queue`) whose workers
(:mod:`.worker`) run the same Python API as the CLI.

``create_app`` is imported on first use, so the CLI can read the service's settings without loading FastAPI,
Huey and Redis for commands that never serve.
"""

from typing import Any

from stylegram.server.settings import ServiceSettings

__all__ = ["ServiceSettings", "create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from stylegram.server.app import create_app

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
