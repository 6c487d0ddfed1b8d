"""``stylegram serve`` in a child process on a free loopback port: for tests, benchmarks and scripts that need a
real server (its own workers, its own queue) and must stop or crash it at will."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

#: prctl's option that sends a signal to a process when its parent ends.
PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """For ``Popen(preexec_fn=...)``: the child is killed when the process that started it ends, however it
    ends (a test run killed, a benchmark interrupted), so nothing it started outlives it. Linux only; elsewhere
    nothing is done."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def stop_group(process: subprocess.Popen, crash: bool = False, timeout_s: float = 30) -> None:
    """End ``process`` (started with ``start_new_session``) and everything in its process group: SIGTERM and up to
    ``timeout_s`` to stop, SIGKILL for whatever is left (or at once when ``crash``)."""
    if not crash:
        process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=timeout_s)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class ServerProcess:
    """A running server: its base URL, process and log file. Set ``crash`` to end it with SIGKILL to its whole
    process group (server and workers at once) instead of a normal stop."""

    url: str
    process: subprocess.Popen
    log: Path
    crash: bool = False


@contextmanager
def server_process(data: str | os.PathLike, *options: str, startup_s: float = 60) -> Iterator[ServerProcess]:
    """Run ``stylegram serve --data DATA OPTIONS…`` until the block ends; it is answering when the block starts.

    Args:
        data: the server's data directory; its log is written beside it as ``serve-<port>.log``.
        options: more ``stylegram serve`` options, e.g. ``"--workers", "2"``.
        startup_s: how long to wait for ``/v1/health`` to answer.

    Raises:
        RuntimeError: the server exited or did not answer in time (its log is in the message).
    """
    port = free_port()
    data = Path(data)
    data.parent.mkdir(parents=True, exist_ok=True)
    log = data.parent / f"serve-{port}.log"
    command = [sys.executable, "-m", "stylegram", "serve", "--port", str(port), "--data", str(data), *options]
    with open(log, "w") as output:
        process = subprocess.Popen(
            command, stdout=output, stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=die_with_parent
        )
    server = ServerProcess(f"http://127.0.0.1:{port}", process, log)
    try:
        _wait_until_up(server, startup_s)
        yield server
    finally:
        stop_group(process, server.crash)


def _wait_until_up(server: ServerProcess, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"stylegram serve exited: {server.log.read_text()}")
        try:
            with urllib.request.urlopen(f"{server.url}/v1/health", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"stylegram serve did not answer in {timeout_s:g} s: {server.log.read_text()}")


class RedisServer:
    """A private ``redis-server`` (the program at ``binary``) on a free loopback port, without persistence, for
    tests and benchmarks: :meth:`kill` then :meth:`start` is a restart that loses every key, as a Redis without
    persistence (or a new one behind the same address) does."""

    def __init__(self, binary: str, folder: Path) -> None:
        self.binary, self.folder, self.port = binary, folder, free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        command = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.process = subprocess.Popen(
            [*command, "--dir", str(self.folder)], stdout=subprocess.DEVNULL, preexec_fn=die_with_parent
        )
        deadline = time.monotonic() + 10
        while True:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            if time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not answer on port {self.port} in 10 s")
            time.sleep(0.05)

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None
