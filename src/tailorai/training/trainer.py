"""The Transformers `Trainer`, with one hook overridden: a diverging loss stops the run.

`StopOnDivergence` is that hook alone, so other trainers (TRL's `DPOTrainer`) can take it too.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from transformers import Trainer, TrainerCallback

from tailorai.errors import DivergedError

__all__ = ["DivergedError", "LossHistory", "StopOnDivergence", "TailorTrainer"]

# A per-token cross-entropy above this has left any sensible range: log(vocab) is ~11 for 60k.
EXPLODED = 1e4


class StopOnDivergence:
    """A `Trainer` mixin that stops the run (before it checkpoints) once the loss is not finite."""

    state: Any

    def compute_loss(self, model: Any, inputs: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        result = super().compute_loss(model, inputs, *args, **kwargs)  # type: ignore[misc]
        loss = result[0] if isinstance(result, tuple) else result
        value = float(loss.detach()) if isinstance(loss, torch.Tensor) else float(loss)
        if model.training and (not math.isfinite(value) or value > EXPLODED):
            raise DivergedError(
                f"Training loss became {value} at step {self.state.global_step}; stopped. "
                "Lower --learning-rate or check the data; the last good checkpoint is kept."
            )
        return result


class TailorTrainer(StopOnDivergence, Trainer):
    """`Trainer` that refuses to go on (and so to checkpoint) once the loss is not finite."""


class LossHistory(TrainerCallback):
    """Collects training and validation losses for the report and the loss curve."""

    def __init__(self) -> None:
        self.train: list[tuple[float, float]] = []  # (epoch, loss)
        self.validation: list[tuple[float, float]] = []

    def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kwargs: Any) -> None:
        logs = logs or {}
        epoch = float(logs.get("epoch", state.epoch or 0.0))
        if "loss" in logs:
            self.train.append((epoch, float(logs["loss"])))
        if "eval_loss" in logs:
            self.validation.append((epoch, float(logs["eval_loss"])))
