"""Workers: Huey consumers running jobs, started by ``stylegram worker`` (on any machine that reaches the
queue) or by ``stylegram serve``, which keeps its own workers alive and restarts one that dies."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from stylegram.server.faults import RepeatedErrorFilter
from stylegram.server.queue import JobQueue
from stylegram.server.settings import ServiceSettings

logger = logging.getLogger("stylegram.server")

#: How long an idle worker waits at most between two looks at the queue.
MAX_POLL_DELAY_S = 0.5
#: What Huey's consumer logs, with a traceback, at every look at a queue it cannot reach.
QUEUE_OUTAGE_MESSAGES = ("Error reading from queue", "Error reading schedule.")


def run_worker(settings: ServiceSettings, threads: int = 1, parent_pid: int | None = None) -> None:
    """Take jobs from the queue until interrupted (SIGINT: finish the running job first; SIGTERM: stop now).

    Args:
        settings: the queue URL (or, for SQLite, the server's data directory).
        threads: jobs run at the same time in this process.
        parent_pid: exit when this process (the ``stylegram serve`` that started this worker) is gone.
    """
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    for handler in logging.getLogger().handlers:
        handler.addFilter(RepeatedErrorFilter(QUEUE_OUTAGE_MESSAGES))
    queue = JobQueue(settings.queue, settings.data_dir)
    if parent_pid is not None:
        threading.Thread(target=_exit_with_parent, args=(parent_pid,), daemon=True).start()
    consumer = queue.huey.create_consumer(
        workers=threads, worker_type="thread", periodic=False, max_delay=MAX_POLL_DELAY_S
    )
    logger.info("worker %d taking jobs from %s", os.getpid(), queue.describe())
    consumer.run()


def _exit_with_parent(parent_pid: int) -> None:
    while os.getppid() == parent_pid:
        time.sleep(1)
    os._exit(0)


class WorkerPool:
    """``count`` worker processes beside the server, each restarted when it exits (crashed or killed)."""

    def __init__(self, settings: ServiceSettings, count: int) -> None:
        self.settings, self.count = settings, count
        self.processes: list[subprocess.Popen | None] = [None] * count
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._supervise, daemon=True, name="stylegram-workers")

    def _command(self) -> list[str]:
        command = [sys.executable, "-m", "stylegram", "worker", "--parent-pid", str(os.getpid())]
        command += ["--data", str(Path(self.settings.data_dir).absolute())]
        return command + (["--queue", self.settings.queue] if self.settings.queue else [])

    def _environment(self) -> dict[str, str]:
        # The cores are shared between the workers; torch would otherwise give each of them all.
        threads = max(1, (os.cpu_count() or 1) // self.count)
        return {**os.environ, "OMP_NUM_THREADS": str(threads)}

    def start(self) -> None:
        if self.count:
            self._thread.start()

    def _supervise(self) -> None:
        while not self._stop.is_set():
            for slot, process in enumerate(self.processes):
                if process is not None and process.poll() is None:
                    continue
                if process is not None:
                    logger.warning("worker %d exited with %s; starting another", process.pid, process.returncode)
                self.processes[slot] = subprocess.Popen(self._command(), env=self._environment())
            self._stop.wait(0.5)

    def pids(self) -> list[int]:
        return [process.pid for process in self.processes if process is not None and process.poll() is None]

    def stop(self) -> None:
        """Stop the workers now; a job they were running is retried when the server runs again."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        for process in self.processes:
            if process is not None and process.poll() is None:
                process.terminate()
        for process in self.processes:
            if process is not None:
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
