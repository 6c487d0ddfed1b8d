"""Faults on a live service (loopback only): workers, the server and Redis killed at random moments while jobs
arrive, and a flood of large uploads while a client asks for the health page.

    python bench/faults.py [--jobs 60] [--queue both|sqlite|redis] [--seed 0] [--skip-uploads]

Kills: for each queue (the embedded SQLite one, and Redis when ``redis-server`` is installed) a server with two
workers takes ``--jobs`` jobs (three in four fast, the rest short optimisations that are often killed midway),
submitted one every 0.3 s over several server lifetimes. In each lifetime one or two faults strike at random
moments: a worker killed with SIGKILL (the server starts another), or Redis killed with SIGKILL and started again
empty; each lifetime but the last ends with the server and its workers killed with SIGKILL, and the next server
starts on the same data directory. Then the faults stop and every accepted job (answered 202) is followed to its
end. Every accepted job must end ``done`` with its picture or ``failed`` with a reason, exactly once: no job seen
final may later be seen otherwise. Refused submissions (503 while the queue was down, no answer while the
server was) are counted, not followed: the client was told.

Uploads: ten 6300x4700 JPEGs posted at once to a server without workers while another client (in a process
of its own) asks ``/v1/health`` every 20 ms, three times over (the queue's database grows each time); the health
latencies are reported (the issue's goal: under 100 ms). The uploading client runs on the same cores.

Results: ``bench/results/faults.json``.
"""

from __future__ import annotations

import argparse
import io
import multiprocessing
import os
import random
import shutil
import signal
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx2
from common import IMAGES, children, report, save
from PIL import Image

from stylegram.server.process import RedisServer, server_process

FINAL = ("done", "failed", "cancelled")
STALE_AFTER_S = 3
SUBMIT_EVERY_S = 0.3


class Ledger:
    """Every accepted job and every status it was seen in: a job seen final and later otherwise is a fault."""

    def __init__(self) -> None:
        self.jobs: dict[str, dict] = {}  # id → {"size", "final" (first final status seen), "last"}
        self.violations: list[str] = []
        self.refused: dict[str, int] = {}

    def accepted(self, job_id: str, size: int) -> None:
        self.jobs[job_id] = {"size": size, "final": None, "last": None}

    def seen(self, job: dict) -> None:
        entry = self.jobs[job["id"]]
        entry["last"] = job
        if entry["final"] is None and job["status"] in FINAL:
            entry["final"] = job["status"]
        elif entry["final"] is not None and job["status"] != entry["final"]:
            self.violations.append(f"{job['id']} was {entry['final']}, then {job['status']}")

    def poll(self, client: httpx2.Client) -> None:
        ids = list(self.jobs)
        for start in range(0, len(ids), 100):
            response = client.get("/v1/jobs", params={"ids": ",".join(ids[start : start + 100])})
            if response.status_code == 200:
                for job in response.json():
                    self.seen(job)

    def unfinished(self) -> list[str]:
        return [job_id for job_id, entry in self.jobs.items() if entry["final"] is None]


def submit(client: httpx2.Client, ledger: Ledger, photo: bytes, rng: random.Random) -> None:
    if rng.random() < 0.75:
        size, fields = rng.choice((64, 96, 128)), {"engine": "fast", "style": "starry_night"}
    else:
        size, fields = 64, {"engine": "gatys", "style": "starry_night", "iterations": 30}
    try:
        response = client.post("/v1/jobs", files={"content": ("photo.jpg", photo)}, data={**fields, "size": size})
    except httpx2.TransportError as error:
        ledger.refused[type(error).__name__] = ledger.refused.get(type(error).__name__, 0) + 1
        return
    if response.status_code == 202:
        ledger.accepted(response.json()["id"], size)
    else:
        key = f"HTTP {response.status_code}"
        ledger.refused[key] = ledger.refused.get(key, 0) + 1


def kill_run(queue: str, jobs: int, seed: int) -> dict:
    """One queue's run of the kills; see the module's docstring."""
    rng = random.Random(seed)
    photo = (IMAGES / "tubingen.jpg").read_bytes()
    ledger, faults, logs = Ledger(), [], []
    begin = time.monotonic()
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        redis = RedisServer(shutil.which("redis-server"), folder) if queue == "redis" else None
        options = ["--workers", "2", "--stale-after", str(STALE_AFTER_S)]
        if redis is not None:
            redis.start()
            options += ["--queue", redis.url]
        try:
            lifetime = 0
            while True:
                last = len(ledger.jobs) + sum(ledger.refused.values()) >= jobs
                lifetime += 1
                with server_process(folder / "data", *options) as server:
                    logs.append(server.log)
                    client = httpx2.Client(base_url=server.url, timeout=30)
                    if last:
                        deadline = time.monotonic() + 900
                        while ledger.unfinished() and time.monotonic() < deadline:
                            ledger.poll(client)
                            time.sleep(0.5)
                        time.sleep(2 * STALE_AFTER_S)  # a late retry or report would change a final job now
                        ledger.poll(client)
                        results = check_results(client, ledger)
                        client.close()
                        break
                    server.crash = True
                    ends = time.monotonic() + rng.uniform(8, 15)
                    strikes = sorted(time.monotonic() + rng.uniform(1, 8) for _ in range(rng.choice((1, 2))))
                    while time.monotonic() < ends:
                        if strikes and time.monotonic() >= strikes[0]:
                            strikes.pop(0)
                            at_s, first = (
                                round(time.monotonic() - begin, 1),
                                not any("redis" in f["fault"] for f in faults),
                            )
                            faults.append(strike(server, redis, rng, at_s, redis_first=first))
                        if len(ledger.jobs) + sum(ledger.refused.values()) < jobs:
                            submit(client, ledger, photo, rng)
                        ledger.poll(client)
                        time.sleep(SUBMIT_EVERY_S)
                    client.close()
                faults.append({"at_s": round(time.monotonic() - begin, 1), "fault": "server and workers SIGKILL"})
            tracebacks = sum(log.read_text().count("Traceback") for log in logs if log.exists())
        finally:
            if redis is not None:
                redis.kill()
    finals = [entry["final"] for entry in ledger.jobs.values()]
    failed = [entry["last"] for entry in ledger.jobs.values() if entry["final"] == "failed"]
    attempts = [entry["last"]["attempt"] for entry in ledger.jobs.values() if entry["last"]]
    return {
        "queue": queue,
        "server_lifetimes": lifetime,
        "faults": faults,
        "fault_counts": {kind: sum(f["fault"] == kind for f in faults) for kind in {f["fault"] for f in faults}},
        "submitted": len(ledger.jobs) + sum(ledger.refused.values()),
        "accepted": len(ledger.jobs),
        "refused": ledger.refused,
        "done": finals.count("done"),
        "failed": len(failed),
        "failed_reasons": sorted({job["error"] for job in failed}),
        "failed_without_reason": sum(not job["error"] for job in failed),
        "never_final": finals.count(None),
        "changed_after_final": ledger.violations,
        "attempts": {str(count): attempts.count(count) for count in sorted(set(attempts))},
        "results": results,
        "tracebacks_in_server_logs": tracebacks,
        "seconds": round(time.monotonic() - begin, 1),
        "all_accounted_for": finals.count(None) == 0 and not ledger.violations and results["bad"] == 0,
    }


def strike(server, redis: RedisServer | None, rng: random.Random, at_s: float, redis_first: bool) -> dict:
    """Kill a worker of ``server``, or (with Redis) Redis itself, restarted empty after a moment (surely when
    ``redis_first``: each Redis run has at least one)."""
    if redis is not None and (redis_first or rng.random() < 0.4):
        redis.kill()
        time.sleep(rng.uniform(0.5, 2.0))
        redis.start()
        return {"at_s": at_s, "fault": "redis SIGKILL, restarted empty"}
    workers = children(server.process.pid)
    if not workers:
        return {"at_s": at_s, "fault": "no worker to kill"}
    try:
        os.kill(rng.choice(workers), signal.SIGKILL)
    except ProcessLookupError:
        return {"at_s": at_s, "fault": "no worker to kill"}
    return {"at_s": at_s, "fault": "worker SIGKILL"}


def check_results(client: httpx2.Client, ledger: Ledger) -> dict:
    """Each done job's picture: a PNG of the asked size."""
    bad = 0
    for entry in ledger.jobs.values():
        if entry["final"] != "done":
            continue
        response = client.get(entry["last"]["result_url"])
        image = Image.open(io.BytesIO(response.content)) if response.status_code == 200 else None
        bad += image is None or image.format != "PNG" or max(image.size) != entry["size"]
    return {"checked": sum(entry["final"] == "done" for entry in ledger.jobs.values()), "bad": bad}


def ask_health(url: str, stop, latencies) -> None:
    """Ask ``/v1/health`` every 20 ms until ``stop`` is set, appending each answer's latency in seconds: in a
    process of its own, so the uploading threads of this one do not delay it."""
    with httpx2.Client(base_url=url, timeout=30) as client:
        while not stop.is_set():
            started = time.perf_counter()
            client.get("/v1/health").raise_for_status()
            latencies.append(time.perf_counter() - started)
            time.sleep(0.02)


def upload_flood(count: int = 10, side: tuple[int, int] = (6300, 4700)) -> dict:
    """Health latency while ``count`` large uploads are decoded."""
    buffer = io.BytesIO()
    Image.open(IMAGES / "tubingen.jpg").convert("RGB").resize(side, Image.Resampling.BICUBIC).save(
        buffer, format="JPEG", quality=92
    )
    big = buffer.getvalue()
    with (
        tempfile.TemporaryDirectory() as folder,
        server_process(Path(folder) / "data", "--workers", "0") as server,
        multiprocessing.Manager() as manager,
    ):
        stop, latencies = manager.Event(), manager.list()

        def post(index: int) -> int:
            with httpx2.Client(base_url=server.url, timeout=120) as client:
                files = {"content": (f"big{index}.jpg", big)}
                return client.post("/v1/jobs", files=files, data={"style": "starry_night"}).status_code

        asker = multiprocessing.Process(target=ask_health, args=(server.url, stop, latencies))
        asker.start()
        floods = []
        for flood in ("first after start", "second", "third"):
            time.sleep(1.0)
            idle = list(latencies)
            started = time.perf_counter()
            with ThreadPoolExecutor(count) as pool:
                statuses = list(pool.map(post, range(count)))
            seconds = time.perf_counter() - started
            during = sorted(list(latencies)[len(idle) :])
            floods.append(
                {
                    "flood": flood,
                    "statuses": {str(status): statuses.count(status) for status in set(statuses)},
                    "all_uploads_in_s": round(seconds, 2),
                    "health_idle_ms_median": round(statistics.median(idle[-20:]) * 1000, 1),
                    "health_during_ms": {
                        "count": len(during),
                        "median": round(statistics.median(during) * 1000, 1),
                        "p95": round(statistics.quantiles(during, n=20)[18] * 1000, 1),
                        "max": round(during[-1] * 1000, 1),
                    },
                }
            )
            del latencies[:]
        stop.set()
        asker.join()
    return {"uploads": count, "upload_size": list(side), "upload_bytes": len(big), "floods": floods}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=60)
    parser.add_argument("--queue", choices=("both", "sqlite", "redis"), default="both")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-uploads", action="store_true")
    args = parser.parse_args()
    queues = ["sqlite", "redis"] if args.queue == "both" else [args.queue]
    if "redis" in queues and shutil.which("redis-server") is None:
        print("faults: redis-server is not installed; the Redis run is left out")
        queues.remove("redis")
    result = report("faults", jobs=args.jobs, seed=args.seed, stale_after_s=STALE_AFTER_S)
    result["kills"] = [kill_run(queue, args.jobs, args.seed + index) for index, queue in enumerate(queues)]
    if not args.skip_uploads:
        result["uploads"] = upload_flood()
    save(result)


if __name__ == "__main__":
    main()
