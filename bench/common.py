"""What every benchmark records: the machine it ran on, and where and how it saves its JSON."""

from __future__ import annotations

import json
import platform
from datetime import UTC, datetime
from pathlib import Path

import torch

import stylegram

ROOT = Path(__file__).resolve().parents[1]
IMAGES = ROOT / "examples" / "images"
RESULTS = ROOT / "bench" / "results"


def machine() -> dict:
    """CPU model, thread count, GPU, and the versions of Python, torch and stylegram."""
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "host": platform.node(),
        "cpu": cpu,
        "cores": torch.get_num_threads(),
        "cuda": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "stylegram": stylegram.__version__,
    }


def report(benchmark: str, **fields) -> dict:
    """The header every benchmark's JSON starts with, followed by its own ``fields``."""
    return {
        "benchmark": benchmark,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        **fields,
    }


def save(result: dict, directory: Path = RESULTS) -> Path:
    """Print ``result`` and write it to ``directory/<benchmark>.json``."""
    text = json.dumps(result, indent=2)
    print(text)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{result['benchmark']}.json"
    path.write_text(text + "\n")
    return path
