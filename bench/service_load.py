"""Service load: 100 jobs submitted at once to a local server (loopback only), followed to the end.

    python bench/service_load.py [--jobs 100] [--workers 2] [--size 256] [--engine fast]

Starts ``stylegram serve`` on a free 127.0.0.1 port with a fresh data directory and ``--workers`` worker
processes, submits ``--jobs`` jobs concurrently (one thread each, the Tübingen, Golden Gate and Hoover Tower
photos in turn, shipped style starry_night), then polls them all until each is final. Reports submission
latency and completion latency (submit → seen done) percentiles, throughput, and proves none was lost: every id
is ``done`` and its result is a PNG of the asked size whose bytes differ only where the photos do.
Results: ``bench/results/service_load.json``.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx2
from common import IMAGES, report, save
from PIL import Image

from stylegram.server.process import server_process

PHOTOS = ("tubingen.jpg", "golden_gate.jpg", "hoovertowernight.jpg")


def percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    cut = statistics.quantiles(ordered, n=100, method="inclusive")
    return {"p50": round(cut[49], 3), "p95": round(cut[94], 3), "p99": round(cut[98], 3), "max": round(ordered[-1], 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--engine", default="fast", choices=("fast", "gatys"))
    parser.add_argument("--iterations", type=int, default=20, help="per job, for --engine gatys")
    args = parser.parse_args()
    photos = [(IMAGES / name).read_bytes() for name in PHOTOS]
    fields = {"engine": args.engine, "style": "starry_night", "size": args.size}
    if args.engine == "gatys":
        fields["iterations"] = args.iterations

    with (
        tempfile.TemporaryDirectory() as folder,
        server_process(Path(folder) / "data", "--workers", str(args.workers)) as server,
    ):
        client = httpx2.Client(base_url=server.url, timeout=120, limits=httpx2.Limits(max_connections=args.jobs))

        def submit(index: int) -> tuple[str, float, float]:
            started = time.monotonic()
            response = client.post(
                "/v1/jobs", files={"content": (PHOTOS[index % 3], photos[index % 3])}, data={**fields, "seed": index}
            )
            response.raise_for_status()
            return response.json()["id"], started, time.monotonic() - started

        begin = time.monotonic()
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            submitted = list(pool.map(submit, range(args.jobs)))
        submit_seconds = time.monotonic() - begin
        ids = [job_id for job_id, _, _ in submitted]
        started_at = {job_id: started for job_id, started, _ in submitted}

        finished: dict[str, dict] = {}
        seen_done: dict[str, float] = {}
        deadline = time.monotonic() + 3600
        while len(finished) < len(ids) and time.monotonic() < deadline:
            pending = [job_id for job_id in ids if job_id not in finished]
            for start in range(0, len(pending), 100):
                for job in client.get("/v1/jobs", params={"ids": ",".join(pending[start : start + 100])}).json():
                    if job["status"] in ("done", "failed", "cancelled"):
                        finished[job["id"]] = job
                        seen_done[job["id"]] = time.monotonic()
            time.sleep(0.1)
        total_seconds = time.monotonic() - begin

        digests, bad = set(), []
        for job_id in ids:
            job = finished.get(job_id)
            if job is None or job["status"] != "done":
                bad.append(job_id)
                continue
            picture = client.get(job["result_url"])
            image = Image.open(io.BytesIO(picture.content))
            if image.format != "PNG" or max(image.size) != args.size:
                bad.append(job_id)
            digests.add(hashlib.sha256(picture.content).hexdigest())
        client.close()

    done = [job_id for job_id in ids if finished.get(job_id, {}).get("status") == "done"]
    result = report(
        "service_load",
        server={"workers": args.workers, "queue": "sqlite", "host": "127.0.0.1"},
        jobs={"count": args.jobs, **fields},
        submitted_in_s=round(submit_seconds, 3),
        all_final_in_s=round(total_seconds, 3),
        throughput_jobs_per_s=round(len(done) / total_seconds, 3),
        submit_latency_s=percentiles([latency for _, _, latency in submitted]),
        completion_latency_s=percentiles([seen_done[job_id] - started_at[job_id] for job_id in done]),
        worker_time_per_job_s=percentiles([finished[job_id]["progress"]["elapsed_s"] or 0.0 for job_id in done]),
        done=len(done),
        lost_or_failed=len(ids) - len(done),
        bad_results=len(bad),
        distinct_results=len(digests),
        attempts_over_1=sum(finished[job_id]["attempt"] > 1 for job_id in done),
    )
    save(result)


if __name__ == "__main__":
    main()
