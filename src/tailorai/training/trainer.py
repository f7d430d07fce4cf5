"""The Transformers `Trainer`, with its loss hook overridden twice: a diverging loss stops the
run, and logits are computed only where a label is learned.

`StopOnDivergence` is the first alone, so other trainers (TRL's `DPOTrainer`) can take it too.
`LogitsAtLabels` is the second: a causal LM's vocabulary projection and its softmax over every
position cost a fifth of a SmolLM2 step, and only the positions before a learned token need
them (with retrieval-augmented prompts, one in five or fewer).
"""

from __future__ import annotations

import functools
import inspect
import math
from typing import Any

import torch
from transformers import Trainer, TrainerCallback

from tailorai.errors import DivergedError
from tailorai.models import IGNORE

__all__ = ["DivergedError", "LogitsAtLabels", "LossHistory", "StopOnDivergence", "TailorTrainer"]

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


@functools.cache
def _keeps_logits(model_class: type) -> bool:
    return "logits_to_keep" in inspect.signature(model_class.forward).parameters


class LogitsAtLabels:
    """A `Trainer` mixin: the causal LM loss from logits at the learned positions only.

    The same loss as the model's own (the mean next-token cross-entropy over learned labels,
    or their sum over `num_items_in_batch` when the trainer counts them across accumulated
    steps), through `logits_to_keep` with a boolean mask. Models without `logits_to_keep`
    fall back to their own loss.
    """

    def compute_loss(
        self,
        model: Any,
        inputs: dict[str, Any],
        return_outputs: bool = False,
        num_items_in_batch: Any = None,
    ) -> Any:
        labels = inputs.get("labels")
        inner = getattr(model, "get_base_model", lambda: model)()
        if labels is None or not _keeps_logits(type(inner)):
            return super().compute_loss(  # type: ignore[misc]
                model, inputs, return_outputs=return_outputs, num_items_in_batch=num_items_in_batch
            )
        targets = labels[:, 1:]
        learned = targets != IGNORE
        keep = torch.zeros_like(labels, dtype=torch.bool)
        keep[:, :-1] = learned
        outputs = model(**{k: v for k, v in inputs.items() if k != "labels"}, logits_to_keep=keep)
        losses = torch.nn.functional.cross_entropy(
            outputs.logits.float(), targets[learned], reduction="sum"
        )
        count = num_items_in_batch if num_items_in_batch is not None else learned.sum()
        loss = losses / torch.as_tensor(count, device=losses.device).clamp(min=1)
        return (loss, outputs) if return_outputs else loss


class TailorTrainer(StopOnDivergence, LogitsAtLabels, Trainer):
    """`Trainer` that refuses to go on (and so to checkpoint) once the loss is not finite, and
    projects onto the vocabulary only where a label is learned."""


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
