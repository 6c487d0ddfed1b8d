"""Every engine on an idle machine and on one where another process keeps a core busy, as JSON.

    python bench/busy_cpu.py [--cases gatys fast adain wct video training] [--repeats 1]

Each case runs in a child process of its own (a fresh process, as a user's command is), three ways:

* ``idle``: nothing else runs;
* ``busy, all threads``: a plain ``python -c "while True: pass"`` (not niced) runs beside it and the thread count
  is pinned to every usable CPU (``STYLEGRAM_THREADS``): what stylegram did before it measured the load;
* ``busy, fitted``: the same loop, the default behaviour (``stylegram.cpu.fit_threads``).

The figure is the case's wall time; ``busy_over_idle`` is what each busy run costs against the idle one (the goal:
at most about 2, since half the machine is gone). The machine probe's cache is filled before the first case so no
run pays for it. Results go to ``bench/results/busy_cpu.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import IMAGES, RESULTS, ROOT, report, save

CONTENT = IMAGES / "tubingen.jpg"
STYLE = IMAGES / "starry_night.jpg"
CLIP = ROOT.parent / "shared" / "bench" / "video" / "bunny.mp4"
#: What each case does, run as ``python -c`` in the child; ``SCRATCH`` is a folder it may write to.
CASES = {
    "gatys": "stylegram.stylize(CONTENT, STYLE, size=512)",
    "fast": "[stylegram.stylize(CONTENT, [], engine='fast', model='starry_night', size=1024) for _ in range(4)]",
    "adain": "[stylegram.stylize(CONTENT, STYLE, engine='adain', size=1024) for _ in range(4)]",
    "wct": "[stylegram.stylize(CONTENT, STYLE, engine='wct', size=1024) for _ in range(4)]",
    "video": "stylize_video(SCRATCH / 'clip.mp4', SCRATCH / 'out.mp4', model='starry_night')",
    # A new output each time: a finished one would be resumed, which is no work at all.
    "training": "train_style(STYLE, SCRATCH / f'net{time.monotonic_ns()}.safetensors', IMAGES, TrainOptions("
    "steps=12, batch_size=2, image_size=128, checkpoint_every=1000))",
}
PRELUDE = """
import sys, time
from pathlib import Path
sys.path.insert(0, {bench!r})
import stylegram
from stylegram.training.fast import TrainOptions, train_style
from stylegram.video import stylize_video
CONTENT, STYLE, IMAGES, SCRATCH = Path({content!r}), Path({style!r}), Path({images!r}), Path({scratch!r})
started = time.perf_counter()
{case}
print(time.perf_counter() - started)
"""
BUSY_LOOP = [sys.executable, "-c", "while True: pass"]


def make_clip(path: Path, frames: int = 48) -> None:
    """The bench clip's first ``frames`` frames (two seconds), so a video case takes seconds, not minutes."""
    from stylegram.io.video import VideoWriter, probe_video, read_frames

    info = probe_video(CLIP)
    with VideoWriter(path, (info.width, info.height), info.fps) as writer:
        for index, frame in enumerate(read_frames(CLIP, (info.width, info.height))):
            if index == frames:
                break
            writer.write(frame)


def run_case(case: str, scratch: Path, busy: bool, pinned: int | None) -> float:
    environment = dict(os.environ)
    environment.pop("STYLEGRAM_THREADS", None)
    if pinned is not None:
        environment["STYLEGRAM_THREADS"] = str(pinned)
    code = PRELUDE.format(
        bench=str(Path(__file__).parent), content=str(CONTENT), style=str(STYLE), images=str(IMAGES),
        scratch=str(scratch), case=CASES[case],
    )  # fmt: skip
    loop = subprocess.Popen(BUSY_LOOP) if busy else None
    try:
        if loop is not None:
            time.sleep(0.5)  # the loop has its core before the case starts
        finished = subprocess.run([sys.executable, "-c", code], env=environment, capture_output=True, text=True)
    finally:
        if loop is not None:
            loop.kill()
            loop.wait()
    if finished.returncode != 0:
        raise SystemExit(f"case {case} failed:\n{finished.stderr}")
    return float(finished.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    from stylegram.cpu import cpu_choice, usable_cpus

    choice = cpu_choice()  # fills the cache, so no case pays for the probe
    cpus = usable_cpus()
    results = []
    with tempfile.TemporaryDirectory() as folder:
        scratch = Path(folder)
        make_clip(scratch / "clip.mp4")
        for case in args.cases:
            idle = run_case(case, scratch, busy=False, pinned=None)
            pinned = run_case(case, scratch, busy=True, pinned=cpus)
            fitted = run_case(case, scratch, busy=True, pinned=None)
            entry = {
                "case": case,
                "what": CASES[case],
                "idle_s": round(idle, 2),
                "busy_all_threads_s": round(pinned, 2),
                "busy_fitted_s": round(fitted, 2),
                "busy_over_idle": {"all_threads": round(pinned / idle, 2), "fitted": round(fitted / idle, 2)},
            }
            print(json.dumps(entry), flush=True)
            results.append(entry)
    probe = {"precision": choice.precision, "layout": choice.layout, "threads": choice.threads}
    save(report("busy_cpu", usable_cpus=cpus, probe=probe, busy_loop=" ".join(BUSY_LOOP[1:]), cases=results), args.out)


if __name__ == "__main__":
    main()
