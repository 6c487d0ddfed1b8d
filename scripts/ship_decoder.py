"""Put a trained decoder into the package, with its training log and loss curve.

    python scripts/ship_decoder.py training/runs/decoders/relu4_1.safetensors

Copies the decoder to ``src/stylegram/weights/decoders/<layer>.safetensors`` and keeps the log
``stylegram train-decoder`` wrote beside it as ``training/logs/decoder_<layer>.log.json`` with its loss curve
``training/logs/decoder_<layer>_loss.png``. A decoder trained further from another (``--init``) keeps that run's
log too, and so on back: ``decoder_<layer>.stage1.log.json`` is the first run, ``stage2`` the next.
"""

import argparse
import json
import shutil
from pathlib import Path

from ship_style import LOGS, ROOT, loss_curve

from stylegram.models.store import load_decoder

DECODERS = ROOT / "src" / "stylegram" / "weights" / "decoders"


def run_logs(decoder: Path) -> list[dict]:
    """The logs of the runs that made ``decoder``, first run first, following each command's ``--init``."""
    log = json.loads(decoder.with_name(f"{decoder.stem}.log.json").read_text())
    command = log["command"]
    if "--init" not in command:
        return [log]
    return [*run_logs(Path(command[command.index("--init") + 1])), log]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("decoder", type=Path)
    args = parser.parse_args()
    decoder, _ = load_decoder(args.decoder)  # refuses anything but a complete decoder file
    DECODERS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(args.decoder, DECODERS / f"{decoder.layer}.safetensors")
    logs = run_logs(args.decoder)
    for stage, log in enumerate(logs, start=1):
        name = f"decoder_{decoder.layer}" if stage == len(logs) else f"decoder_{decoder.layer}.stage{stage}"
        (LOGS / f"{name}.log.json").write_text(json.dumps(log, indent=1) + "\n")
        loss_curve(log["log"], LOGS / f"{name}_loss.png", f"{decoder.layer} decoder, run {stage} of {len(logs)}")
    print(f"shipped the {decoder.layer} decoder: {DECODERS / f'{decoder.layer}.safetensors'}")


if __name__ == "__main__":
    main()
