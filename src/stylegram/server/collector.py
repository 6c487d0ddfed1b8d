"""The server's side of the workers' reports: progress, previews and outcomes moved from the queue's store into
the job records and files, and jobs that would otherwise never end handed to another worker: a running job whose
worker went silent, and a queued job whose task is no longer in the queue (a worker killed right after taking it,
a Redis restarted without its data, a server killed between recording a job and queueing it)."""

from __future__ import annotations

import logging
import threading
import time

from stylegram.server.faults import FaultLog
from stylegram.server.queue import JobQueue
from stylegram.server.records import DONE, FAILED, QUEUED, RESULTS, RUNNING, Job, JobStore, write_atomically
from stylegram.server.settings import ServiceSettings

logger = logging.getLogger("stylegram.server")

#: Seconds between two looks at the queue's store.
POLL_S = 0.2


class Collector:
    """Polls the reports of every active job; :meth:`collect_once` is one pass (the tests call it directly)."""

    def __init__(self, store: JobStore, queue: JobQueue, settings: ServiceSettings) -> None:
        self.store, self.queue, self.settings = store, queue, settings
        # job id → (last heartbeat seen, when it was seen by this server's clock): no shared clocks needed.
        self._beats: dict[str, tuple[object, float]] = {}
        # queued job id → when it was first seen queued with no heartbeat of its attempt.
        self._waiting: dict[str, float] = {}
        self.fault = FaultLog("collecting job reports")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True, name="stylegram-collector")
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(POLL_S):
            try:
                self.collect_once()
            except Exception as error:  # a bad pass must not end collection; the next one retries
                self.fault.failed(error)
            else:
                self.fault.recovered()

    def collect_once(self) -> None:
        active = self.store.active()
        for job in active:
            self._collect(job)
        self._requeue_lost(active)

    def _requeue_lost(self, active: list[Job]) -> None:
        """Queue again the jobs queued for ``stale_after_s`` with no heartbeat whose task is not in the queue:
        nothing would ever run them. The queue is looked at once per ``stale_after_s`` for a waiting job."""
        now, limit = time.monotonic(), self.settings.stale_after_s
        waiting = {job.id: job for job in active if job.status == QUEUED and job.id not in self._beats}
        self._waiting = {job_id: self._waiting.get(job_id, now) for job_id in waiting}
        overdue = [waiting[job_id] for job_id, since in self._waiting.items() if now - since > limit]
        if not overdue:
            return
        if self.queue.pending_count() >= len(waiting):
            # Each waiting job can still have its task: nothing is lost, and the tasks (which carry the uploads)
            # need not be read and unpickled to tell.
            self._waiting.update(dict.fromkeys(self._waiting, now))
            return
        queued = self.queue.queued_attempts()
        for job in overdue:
            if (job.id, job.attempt) in queued:
                self._waiting[job.id] = now
            else:
                self._retry(job, lost="its task was no longer in the queue")

    def _collect(self, job: Job) -> None:
        def take(what: str, peek: bool = False) -> object:
            return self.queue.report(job.id, job.attempt, what, peek=peek)

        beat = take("beat", peek=True)
        now = time.monotonic()
        seen = self._beats.get(job.id)
        if beat is not None and (seen is None or seen[0] != beat):
            self._beats[job.id] = seen = (beat, now)
            if job.status == QUEUED:
                self.store.update(job.id, status=RUNNING, worker=beat.get("worker"))
        progress = take("progress", peek=True)
        if progress is not None and progress != job.progress:
            self.store.update(job.id, progress=progress)
        preview = take("preview")
        if preview is not None:
            write_atomically(self.store.folder(job.id) / "preview.jpg", preview["jpeg"])
            self.store.update(job.id, preview_step=preview["step"])
        # Peeked, and deleted only once recorded: a server killed in between finds it again.
        outcome = take("outcome", peek=True)
        if outcome is not None:
            self._finish(job, outcome, progress or job.progress)
        elif job.status == RUNNING:
            if seen is None:  # a running job met first after a server restart: its silence is timed from now
                self._beats[job.id] = (beat, now)
            elif now - seen[1] > self.settings.stale_after_s:
                silent = (
                    f"its worker ({job.worker or 'unknown'}) stopped reporting for {self.settings.stale_after_s:g} s"
                )
                self._retry(job, lost=silent)

    def _finish(self, job: Job, outcome: dict, progress: dict) -> None:
        if outcome["status"] == DONE:
            name, _ = RESULTS[job.params.get("kind", "image")]
            write_atomically(self.store.folder(job.id) / name, outcome["result"])
        if outcome["status"] == DONE and progress.get("total"):
            progress = {**progress, "step": progress["total"]}
        self.store.update(
            job.id,
            status=outcome["status"],
            error=outcome.get("error"),
            run=outcome.get("run") or {},
            progress=progress,
        )
        self._forget(job)

    def _retry(self, job: Job, lost: str) -> None:
        self._forget(job)
        if job.attempt >= self.settings.attempts:
            self.store.update(job.id, status=FAILED, error=f"gave up after {job.attempt} attempts: {lost}")
            return
        logger.warning("job %s: %s; starting attempt %d", job.id, lost, job.attempt + 1)
        # Recorded before it is queued: a server killed in between leaves a queued attempt with no task, which the
        # next pass queues again, never two tasks of one attempt.
        self.store.update(job.id, status=QUEUED, attempt=job.attempt + 1, task_id=None, progress={})
        task_id = self.queue.enqueue(job.id, job.attempt + 1, job.params, self.store.inputs(job.id))
        self.store.update(job.id, task_id=task_id)

    def _forget(self, job: Job) -> None:
        self._beats.pop(job.id, None)
        self._waiting.pop(job.id, None)
        self.queue.forget_reports(job.id, job.attempt)
