"""Batches: in one process against a naive loop that runs ``stylegram transfer`` once per item, and in the
service with 1 and 2 workers on Redis, with workers and the server killed mid-batch.

    python bench/batch.py [--photos 40] [--gatys-photos 8] [--skip-local] [--skip-service]

* fast engine: ``--photos`` photos × 2 shipped styles at 256 px;
* Gatys: ``--gatys-photos`` photos × 2 paintings at 256 px (the engine's defaults);
* service (needs ``redis-server``): ``POST /v1/batches`` of the same fast batch at 512 px to a server with 1, then
  2 workers on a private Redis, timed from the upload to the last item done; then the same batch to a server
  with 2 workers of which one is killed (SIGKILL) after 2 s and then the server and its workers after 4 s; a new
  server on the same data directory and Redis must finish it, every item done exactly once (no item seen done and
  later otherwise, one picture per item in the zip).

The one-process batch is ``stylegram batch``'s own code (``stylegram.batch``): the VGG19 encoder, the trained
networks and a painting's targets are loaded once and kept; the naive loop pays Python's start, torch's import
and every load per item. Photos: the validation split of ``../shared/train/photos`` (any photos would do; these
are at hand). Results: ``bench/results/batch.json``.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import httpx2
from common import IMAGES, TRAIN, children, previous_result, report, save

from stylegram.batch import plan_batch, stylize_batch
from stylegram.server.process import RedisServer, server_process
from stylegram.training.data import image_paths

SIZE = 256
CASES = {
    "fast": {"styles": ["starry_night", "mondrian"], "engine": "fast"},
    "gatys": {"styles": [str(IMAGES / "the_scream.jpg"), str(IMAGES / "shipwreck.jpg")], "engine": "gatys"},
}


def naive_loop(photos: list[Path], styles: list[str], engine: str, folder: Path) -> float:
    """Seconds for one ``stylegram transfer`` process per photo × style."""
    started = time.perf_counter()
    for photo in photos:
        for style in styles:
            which = ["--model", style] if engine == "fast" else [style]
            output = folder / f"{photo.stem}_{Path(style).stem}.png"
            command = [sys.executable, "-m", "stylegram", "transfer", str(photo), *which, "--size", str(SIZE)]
            subprocess.run([*command, "-o", str(output), "-q"], check=True, capture_output=True)
    return time.perf_counter() - started


def one_process(photos: list[Path], styles: list[str], engine: str, folder: Path) -> float:
    started = time.perf_counter()
    result = stylize_batch(plan_batch(photos, styles, folder), engine=engine, size=SIZE)
    if result.counts["done"] != len(photos) * len(styles):
        raise SystemExit(f"the batch made {result.counts}")
    return time.perf_counter() - started


SERVICE_SIZE = 512
SERVICE_STYLES = "starry_night,mondrian"


def post_batch(client: httpx2.Client, photos: list[Path]) -> dict:
    files = [("contents", (photo.name, photo.read_bytes())) for photo in photos]
    data = {"engine": "fast", "styles": SERVICE_STYLES, "size": SERVICE_SIZE}
    response = client.post("/v1/batches", files=files, data=data, timeout=120)
    response.raise_for_status()
    return response.json()


def follow_batch(client: httpx2.Client, batch_id: str, seen: dict[str, str], timeout_s: float = 900) -> dict:
    """Poll the batch until every item has ended; ``seen`` records each item's first final state, and an item
    seen final and later otherwise is reported."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            batch = client.get(f"/v1/batches/{batch_id}").json()
        except httpx2.TransportError:  # the server is being restarted
            time.sleep(0.2)
            continue
        for job in batch["items"]:
            final = job["status"] in ("done", "failed", "cancelled")
            if final and seen.setdefault(job["id"], job["status"]) != job["status"]:
                seen[job["id"]] = f"changed from {seen[job['id']]} to {job['status']}"
        if batch["finished"]:
            return batch
        time.sleep(0.2)
    raise SystemExit(f"batch {batch_id} did not finish in {timeout_s} s")


def service(photos: list[Path]) -> dict:
    binary = shutil.which("redis-server")
    if binary is None:
        return {"skipped": "no redis-server"}
    figures: dict = {"items": len(photos) * 2, "size": SERVICE_SIZE}
    with tempfile.TemporaryDirectory() as folder:
        for workers in (1, 2):
            redis = RedisServer(binary, Path(folder))
            redis.start()
            try:
                options = ["--workers", str(workers), "--queue", redis.url]
                with server_process(Path(folder) / f"data{workers}", *options) as server:
                    client = httpx2.Client(base_url=server.url, timeout=30)
                    started = time.perf_counter()
                    batch = post_batch(client, photos)
                    done = follow_batch(client, batch["id"], {})
                    seconds = time.perf_counter() - started
                    figures[f"workers_{workers}"] = {
                        "seconds": round(seconds, 2),
                        "items_per_s": round(len(done["items"]) / seconds, 3),
                        "counts": done["counts"],
                    }
                    client.close()
            finally:
                redis.kill()
            print("service", workers, figures[f"workers_{workers}"], flush=True)
        figures["faults"] = faults(binary, Path(folder), photos)
    return figures


def faults(binary: str, folder: Path, photos: list[Path]) -> dict:
    redis = RedisServer(binary, folder)
    redis.start()
    seen: dict[str, str] = {}
    options = ["--workers", "2", "--queue", redis.url, "--stale-after", "3"]
    try:
        with server_process(folder / "faults", *options) as server:
            client = httpx2.Client(base_url=server.url, timeout=30)
            batch = post_batch(client, photos)
            time.sleep(2)
            os.kill(children(server.process.pid)[0], signal.SIGKILL)
            time.sleep(2)
            server.crash = True  # the server and its workers are killed with SIGKILL at the end of the block
            client.close()
        with server_process(folder / "faults", *options) as server:
            client = httpx2.Client(base_url=server.url, timeout=30)
            done = follow_batch(client, batch["id"], seen)
            time.sleep(6)  # a late retry or report would change a finished item now
            again = follow_batch(client, batch["id"], seen)
            archive = zipfile.ZipFile(io.BytesIO(client.get(again["result_url"]).content))
            client.close()
    finally:
        redis.kill()
    attempts = [job["attempt"] for job in again["items"]]
    result = {
        "faults": ["worker SIGKILL at 2 s", "server and workers SIGKILL at 4 s, a new server on the same data"],
        "counts": again["counts"],
        "changed_after_final": [state for state in seen.values() if state.startswith("changed")],
        "pictures_in_zip": len(archive.namelist()),
        "distinct_names_in_zip": len(set(archive.namelist())),
        "attempts": {str(count): attempts.count(count) for count in sorted(set(attempts))},
        "every_item_once": again["counts"]["done"] == len(again["items"]) == len(set(archive.namelist()))
        and done["counts"] == again["counts"],
    }
    print("faults", result, flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=40)
    parser.add_argument("--gatys-photos", type=int, default=8)
    parser.add_argument("--skip-local", action="store_true")
    parser.add_argument("--skip-service", action="store_true")
    args = parser.parse_args()
    every = image_paths(TRAIN / "photos", "validation")
    previous = previous_result("batch")
    result = report("batch", size=SIZE)
    if not args.skip_service:
        result["service"] = service(every[: args.photos])
    elif "service" in previous:
        result["service"] = previous["service"]
    for case, counts in (("fast", args.photos), ("gatys", args.gatys_photos)):
        if args.skip_local:
            if case in previous:
                result[case] = previous[case]
            continue
        photos = every[:counts]
        styles, engine = CASES[case]["styles"], CASES[case]["engine"]
        items = len(photos) * len(styles)
        with tempfile.TemporaryDirectory() as batch_folder, tempfile.TemporaryDirectory() as loop_folder:
            batch_s = one_process(photos, styles, engine, Path(batch_folder))
            loop_s = naive_loop(photos, styles, engine, Path(loop_folder))
        result[case] = {
            "items": items,
            "photos": len(photos),
            "styles": [Path(style).stem for style in styles],
            "one_process_s": round(batch_s, 2),
            "naive_loop_s": round(loop_s, 2),
            "one_process_items_per_s": round(items / batch_s, 3),
            "naive_loop_items_per_s": round(items / loop_s, 3),
            "speedup": round(loop_s / batch_s, 2),
        }
        print(case, result[case], flush=True)
    save(result)


if __name__ == "__main__":
    main()
