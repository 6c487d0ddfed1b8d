"""The bookkeeping every training run shares: resuming, the loss log, checkpoints, the learning-rate schedule.

A run writes ``<output>.ckpt`` every so often and when stopped; started again with the same settings it
resumes there. How long it runs and how often it reports may change between starts (train 1500 steps, then go
on to 3000); anything else that differs makes the checkpoint another run's, and it is refused.

A checkpoint holds tensors and plain values only (the settings as JSON) and is read with
``torch.load(weights_only=True)``: a file placed beside the output cannot run code when it is read, and one
that is not a stylegram checkpoint is refused.
"""

from __future__ import annotations

import json
import math
import pickle
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch

from stylegram.engines.base import ProgressEvent
from stylegram.errors import InputError
from stylegram.io.files import atomic_path

#: Settings that may change when a run is resumed. Precision among them: a checkpoint moves between machines
#: whose fastest precision differs (bf16 convolutions ran 8 times slower than float32 on a CPU without AVX-512 BF16).
RESUMABLE_CHANGES = ("steps", "checkpoint_every", "preview_every", "precision")
#: What a trained model is written as.
MODEL_SUFFIXES = (".safetensors",)
#: The ``format`` entry of a checkpoint this version writes and reads.
CHECKPOINT_FORMAT = "stylegram-checkpoint-1"


class Stateful(Protocol):
    def state_dict(self) -> dict: ...

    def load_state_dict(self, state: dict) -> Any: ...


@dataclass
class TrainResult:
    """What a run made: the model file (None when interrupted), its loss log and validation figures (the loss
    terms on held-out pictures, every so often), steps done and training time."""

    model: Path | None
    log: list[dict] = field(default_factory=list)
    validation: list[dict] = field(default_factory=list)
    steps_done: int = 0
    interrupted: bool = False
    seconds: float = 0.0


def checkpoint_path(output: Path) -> Path:
    return output.with_name(output.name + ".ckpt")


def learning_rate_at(step: int, steps: int, learning_rate: float) -> float:
    """Cosine decay from ``learning_rate`` to a tenth of it over ``steps``: the full rate learns fast, and the
    decay stops the late jumps in the loss a constant rate gave (starry_night's first run spiked at step 2200
    and ended worse than it was at 1800).

    Example:
        >>> [round(learning_rate_at(step, 100, 1.0), 3) for step in (0, 50, 100)]
        [1.0, 0.55, 0.1]
    """
    progress = min(1.0, step / steps)
    return learning_rate * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def optimisation_step(
    optimizer: torch.optim.Optimizer, terms: dict[str, torch.Tensor], step: int, steps: int, learning_rate: float
) -> int:
    """One step on the sum of the loss ``terms`` at the scheduled learning rate; return the new step count.

    Raises:
        InputError: the loss is no longer finite (the run would only produce noise from here).
    """
    loss = sum(terms.values())
    if not math.isfinite(float(loss.detach())):
        raise InputError(f"the loss is no longer finite at step {step + 1}; lower the learning rate")
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    for group in optimizer.param_groups:
        group["lr"] = learning_rate_at(step, steps, learning_rate)
    optimizer.step()
    return step + 1


class TrainingRun:
    """A run's checkpoint file, its loss log (mean losses per ``checkpoint_every`` steps) and its clock.

    Args:
        output: the model file the run will write; the checkpoint lies beside it.
        settings: everything that defines the run (recorded in the checkpoint, compared when resuming);
            the keys in ``RESUMABLE_CHANGES`` are left out.
        parts: the networks and optimisers whose state the checkpoint holds, by name.
    """

    def __init__(self, output: Path, settings: dict[str, Any], parts: dict[str, Stateful]) -> None:
        self.checkpoint = checkpoint_path(output)
        kept = {name: value for name, value in settings.items() if name not in RESUMABLE_CHANGES}
        self.settings = json.dumps(kept, sort_keys=True, default=str)
        self.parts = parts
        self.log: list[dict] = []
        self.validation: list[dict] = []
        self.first_step = 0
        self._sums: dict[str, float] = {}
        self.last_values: dict[str, float] = {}
        self._started = time.perf_counter()
        self._earlier_seconds = 0.0

    def resume(self, device: torch.device) -> int:
        """Load the checkpoint when there is one; return the step to start from.

        Raises:
            InputError: the checkpoint is torn or foreign (a pickle of other objects is refused unrun), or made
                with other settings.
        """
        if not self.checkpoint.exists():
            return 0
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # torch's notes on the pickle protocol of a foreign file
                state = torch.load(self.checkpoint, map_location=device, weights_only=True)
        except pickle.UnpicklingError:  # torch's message suggests weights_only=False: exactly what must not be done
            raise InputError(
                f"checkpoint {self.checkpoint} is not a stylegram checkpoint (it holds objects other than tensors "
                "and plain values; they were not loaded); delete it to start over"
            ) from None
        except (RuntimeError, EOFError, OSError, ValueError) as error:
            raise InputError(
                f"checkpoint {self.checkpoint} is not a stylegram checkpoint or is damaged "
                f"({str(error).splitlines()[0] if str(error) else type(error).__name__}); delete it to start over"
            ) from None
        if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
            raise InputError(f"checkpoint {self.checkpoint} is not a stylegram checkpoint; delete it to start over")
        if state.get("settings") != self.settings:
            raise InputError(
                f"checkpoint {self.checkpoint} is of another run (other style or settings); delete it to start over"
            )
        for name, part in self.parts.items():
            part.load_state_dict(state[name])
        self.first_step, self.log = state["step"], state["log"]
        self.validation = state.get("validation", [])
        self._earlier_seconds = self.log[-1]["seconds"] if self.log else 0.0
        return self.first_step

    @property
    def seconds(self) -> float:
        """Training time so far, earlier starts included."""
        return self._earlier_seconds + time.perf_counter() - self._started

    def record(self, values: dict[str, float]) -> None:
        """Add one step's loss terms (and their total) to the current log interval."""
        self.last_values = values | {"total": sum(values.values())}
        for name, value in self.last_values.items():
            self._sums[name] = self._sums.get(name, 0.0) + value

    def after_step(
        self,
        step: int,
        steps: int,
        checkpoint_every: int,
        terms: dict[str, torch.Tensor],
        on_progress: Callable[[ProgressEvent], None] | None,
    ) -> None:
        """Record step ``step`` of ``steps`` (its loss ``terms``), report it, and close the log interval with a
        checkpoint every ``checkpoint_every`` steps and at the end."""
        self.record({name: float(value.detach()) for name, value in terms.items()})
        if on_progress is not None:
            on_progress(ProgressEvent(step, steps, "train", self.last_values, self.seconds))
        if step % checkpoint_every == 0 or step == steps:
            self.close_interval(step)

    def validated(self, step: int, terms: dict[str, torch.Tensor]) -> None:
        """Record the loss ``terms`` measured on validation pictures at ``step`` (kept with the checkpoint)."""
        values = {name: float(value) for name, value in terms.items()}
        values["total"] = sum(values.values())
        self.validation.append({"step": step} | {name: round(value, 5) for name, value in values.items()})

    def result(self, model: Path | None, step: int) -> TrainResult:
        """What the run made: ``model`` when it completed, None when it was interrupted at ``step``."""
        return TrainResult(model, self.log, self.validation, step, model is None, self.seconds)

    def close_interval(self, step: int) -> None:
        """Append the mean losses since the last log line, and write a checkpoint."""
        count = step - (self.log[-1]["step"] if self.log else self.first_step) or 1
        line = {"step": step, "seconds": round(self.seconds, 1)}
        self.log.append(line | {name: round(total / count, 5) for name, total in self._sums.items()})
        self._sums = {}
        self.save(step)

    def save(self, step: int) -> None:
        state = {name: part.state_dict() for name, part in self.parts.items()}
        with atomic_path(self.checkpoint) as temporary:
            record = {
                "format": CHECKPOINT_FORMAT,
                "settings": self.settings,
                "step": step,
                "log": self.log,
                "validation": self.validation,
            }
            torch.save({**state, **record}, temporary)
