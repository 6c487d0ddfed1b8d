"""``stylegram serve`` and ``worker``: the REST API and web page, and the processes that take its jobs."""

from __future__ import annotations

import argparse
import math
import socket
import sys
from pathlib import Path

from stylegram.errors import InputError
from stylegram.io.files import check_writable
from stylegram.server.settings import DATA_VARIABLE, QUEUE_VARIABLE, TOKEN_VARIABLE, ServiceSettings

#: ``--host`` values that listen on every address rather than name one.
WILDCARD_HOSTS = ("0.0.0.0", "::", "")


def _service_settings(args: argparse.Namespace) -> ServiceSettings:
    """The settings from the options, refused with one line where they cannot work."""
    serving = {}
    if args.command == "serve":
        if not math.isfinite(args.stale_after) or args.stale_after <= 0:
            raise InputError(f"--stale-after must be a positive number of seconds, got {args.stale_after:g}")
        named = [] if args.host in WILDCARD_HOSTS else [args.host]
        serving = {
            "token": args.token,
            "stale_after_s": args.stale_after,
            "allowed_hosts": (*ServiceSettings.allowed_hosts, *named, *(args.allowed_host or [])),
            "allowed_origins": tuple(args.allowed_origin or []),
        }
    settings = ServiceSettings.from_environment(data_dir=args.data, queue=args.queue, **serving)
    if args.command == "serve" or settings.queue is None:  # a worker on Redis needs no disk
        _check_data_dir(settings.data_dir)
    return settings


def _check_data_dir(folder: Path) -> None:
    if folder.exists() and not folder.is_dir():
        raise InputError(f"--data must be a directory; {folder} is a file")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        check_writable(folder / "probe")
    except OSError as error:
        raise InputError(f"cannot write to the data directory {folder}: {error.strerror or error}") from None


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from stylegram.server import create_app
    from stylegram.server.worker import WorkerPool

    if not 0 < args.port < 65536:
        raise InputError(f"--port must be between 1 and 65535, got {args.port}")
    if args.workers < 0:
        raise InputError(f"--workers must be 0 or more, got {args.workers}")
    settings = _service_settings(args)
    with socket.socket() as probe:
        try:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((args.host, args.port))
        except OSError as error:
            raise InputError(f"cannot listen on {args.host}:{args.port}: {error.strerror or error}") from None
    app = create_app(settings)
    workers = WorkerPool(settings, args.workers)
    workers.start()
    print(
        f"stylegram: serving http://{args.host}:{args.port}/ (API docs at /docs), data in {settings.data_dir}, "
        f"queue {app.state.service.queue.describe()}, {args.workers} worker(s)",
        file=sys.stderr,
    )
    try:
        uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    finally:
        workers.stop()
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from stylegram.server.worker import run_worker

    if args.threads < 1:
        raise InputError(f"--threads must be 1 or more, got {args.threads}")
    run_worker(_service_settings(args), threads=args.threads, parent_pid=args.parent_pid)
    return 0


def _add_service_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data",
        metavar="DIR",
        help=f"job records, uploads, results, the SQLite queue (default: ${DATA_VARIABLE} or ./stylegram-data)",
    )
    parser.add_argument(
        "--queue",
        metavar="URL",
        help=f"redis://host:port/db to spread work over machines "
        f"(default: ${QUEUE_VARIABLE}, else SQLite in the data directory)",
    )


def add_parsers(commands: argparse._SubParsersAction, formatter: type) -> None:
    serve = commands.add_parser(
        "serve", help="the REST API and web page, with workers and a persistent job queue", formatter_class=formatter
    )
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes started beside the server (0: "
        "none, for workers started elsewhere with `stylegram worker`)",
    )
    serve.add_argument("--token", help=f"require this API token (default: ${TOKEN_VARIABLE}, else none)")
    serve.add_argument(
        "--stale-after",
        type=float,
        default=ServiceSettings.stale_after_s,
        metavar="SECONDS",
        help="retry a job on another worker when its worker is silent this long",
    )
    serve.add_argument(
        "--allowed-host",
        action="append",
        metavar="NAME",
        help="a host name the server answers to besides localhost, 127.0.0.1, ::1 and --host (repeatable; * any)",
    )
    serve.add_argument(
        "--allowed-origin",
        action="append",
        metavar="URL",
        help="a web page origin (scheme://host:port) besides the server's own that may send jobs (repeatable)",
    )
    _add_service_options(serve)
    serve.set_defaults(handler=cmd_serve)

    worker = commands.add_parser("worker", help="take jobs from a server's queue", formatter_class=formatter)
    worker.add_argument("--threads", type=int, default=1, help="jobs run at once in this process")
    worker.add_argument("--parent-pid", type=int, help=argparse.SUPPRESS)
    _add_service_options(worker)
    worker.set_defaults(handler=cmd_worker)
