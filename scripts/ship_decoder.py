"""Put a trained decoder into the package, with its training log and loss curve.

    python scripts/ship_decoder.py training/runs/decoders/relu4_1.safetensors
    python scripts/ship_decoder.py --checkpoint training/decoders/relu4_1.safetensors.ckpt

The second form ships the decoder of a training still under way (a long run that spans sessions), as of its
checkpoint's step; the log written is the checkpoint's (losses and validation figures so far), and the decoder's
metadata says at which step of how many it was taken. The shipped decoder's earlier logs move one stage down
(unless the shipped decoder came from the same run, whose log is then replaced).

Copies the decoder to ``src/stylegram/weights/decoders/<layer>.safetensors`` and keeps the log
``stylegram train-decoder`` wrote beside it as ``training/logs/decoder_<layer>.log.json`` with its loss curve
``training/logs/decoder_<layer>_loss.png``. A decoder trained further from another (``--init``) keeps that run's
log too, and so on back: ``decoder_<layer>.stage1.log.json`` is the first run, ``stage2`` the next.
"""

import argparse
import json
import shutil
from pathlib import Path

import torch
from ship_style import LOGS, ROOT, loss_curve

from stylegram.models.decoder import Decoder
from stylegram.models.store import DECODER, load_decoder, save_network

DECODERS = ROOT / "src" / "stylegram" / "weights" / "decoders"


def run_logs(decoder: Path) -> list[dict]:
    """The logs of the runs that made ``decoder``, first run first, following each command's ``--init``."""
    log = json.loads(decoder.with_name(f"{decoder.stem}.log.json").read_text())
    command = log["command"]
    if "--init" not in command:
        return [log]
    return [*run_logs(Path(command[command.index("--init") + 1])), log]


def ship_checkpoint(checkpoint: Path, command: list[str]) -> None:
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    settings = json.loads(state["settings"])
    decoder = Decoder(settings["layer"], settings["stages"])
    decoder.load_state_dict(state["decoder"])
    log = {"command": command, "log": state["log"], "validation": state["validation"]}
    shipped = json.loads((LOGS / f"decoder_{decoder.layer}.log.json").read_text())
    stage = sum(1 for _ in LOGS.glob(f"decoder_{decoder.layer}.stage*.log.json"))
    # The same run shipped again at a later step replaces its own log; another run moves it one stage down.
    if shipped["log"][:1] != state["log"][:1]:
        stage += 1
        name = f"decoder_{decoder.layer}.stage{stage}"
        (LOGS / f"{name}.log.json").write_text(json.dumps(shipped, indent=1) + "\n")
        loss_curve(shipped["log"], LOGS / f"{name}_loss.png", f"{decoder.layer} decoder, run {stage}")
    info = {
        "trained": {**settings, "steps_done": state["step"], "checkpoint": str(checkpoint)},
        "final_losses": state["log"][-1] if state["log"] else {},
        "validation": state["validation"][-1] if state["validation"] else {},
    }
    save_network(decoder, DECODERS / f"{decoder.layer}.safetensors", DECODER, info)
    (LOGS / f"decoder_{decoder.layer}.log.json").write_text(json.dumps(log, indent=1) + "\n")
    loss_curve(state["log"], LOGS / f"decoder_{decoder.layer}_loss.png", f"{decoder.layer} decoder, run {stage + 1}")
    print(f"shipped the {decoder.layer} decoder at step {state['step']} of its run")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("decoder", type=Path, nargs="?")
    parser.add_argument("--checkpoint", type=Path, help="a training checkpoint (OUT.ckpt) instead of a decoder file")
    parser.add_argument("--command", nargs="+", default=["make", "train-decoder-relu4_1"],
                        help="with --checkpoint: the command the run is made with, for the log")  # fmt: skip
    args = parser.parse_args()
    if args.checkpoint is not None:
        ship_checkpoint(args.checkpoint, args.command)
        return
    if args.decoder is None:
        parser.error("give a decoder file or --checkpoint")
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
