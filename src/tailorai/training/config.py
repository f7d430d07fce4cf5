"""`TrainConfig`: every option of `tailor train`, validated, saved beside every model version."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from tailorai.errors import ConfigError

__all__ = ["METHODS", "TrainConfig", "parse_scope"]

METHODS = ("full", "lora", "dora", "qlora")
_SCOPE = re.compile(r"^(global|segment:[\w.\-]+|user:[\w.@\-]+)$")


def parse_scope(scope: str) -> tuple[str, str | None]:
    """`"segment:buyers"` → `("segment", "buyers")`; `"global"` → `("global", None)`."""
    if not _SCOPE.match(scope):
        raise ConfigError(
            f"--scope must be global, segment:NAME, segment:all or user:ID. Got {scope!r} instead."
        )
    kind, _, value = scope.partition(":")
    return kind, value or None


def _opt(text: str, default: Any = None, factory: Any = None) -> Any:
    if factory is not None:
        return field(default_factory=factory, metadata={"help": text})
    return field(default=default, metadata={"help": text})


@dataclass
class TrainConfig:
    """Options of `tailor train`; also the `train:` section of `tailor.yaml`.

    Defaults follow common practice: AdamW with weight decay 0.01 and linear warmup, learning
    rate 5e-5 for full fine-tuning and 2e-4 for LoRA/DoRA, 4 epochs with evaluation every epoch
    and early stopping on validation loss.
    """

    data: str = _opt("Dataset folder from `tailor data prepare` (train/validation.jsonl).", "")
    base_model: str | None = _opt("Hub id, folder or .gguf file; the shipped model when unset.")
    method: str = _opt("full, lora, dora or qlora (QLoRA needs a CUDA GPU).", "lora")
    scope: str = _opt("global, segment:NAME, segment:all or user:ID.", "global")
    group_by: str = _opt("Example meta field that names segments (for segment scopes).", "segment")
    name: str | None = _opt("Registry name of the version; derived from the scope when unset.")
    init_from: str | None = _opt(
        "An adapter version (name@N) to start from; segment and user adapters start from the "
        "production global adapter when unset."
    )
    max_examples: int | None = _opt(
        "Train on at most this many examples and validate on a quarter as many, sampled with "
        "the seed (quick runs, demos)."
    )
    learning_rate: float | None = _opt("Peak learning rate; 5e-5 (full) or 2e-4 (LoRA) if unset.")
    epochs: int = _opt("Training epochs (early stopping may end sooner).", 4)
    batch_size: int = _opt(
        "Examples per optimizer step before accumulation (packed rows without varlen attention).",
        8,
    )
    gradient_accumulation: int = _opt("Steps whose gradients add up before each update.", 1)
    weight_decay: float = _opt("AdamW weight decay.", 0.01)
    warmup_ratio: float = _opt("Share of steps with a linear learning-rate warmup.", 0.1)
    max_grad_norm: float = _opt("Gradient clipping norm.", 1.0)
    patience: int = _opt("Epochs without validation improvement before stopping.", 2)
    max_seq_len: int | None = _opt("Packed sequence length; the model's context when unset.")
    packing: bool = _opt(
        "Pack examples without padding: end to end with per-example attention, or into "
        "full-length rows with a block-diagonal mask for models whose attention is fixed.",
        True,
    )
    lora_r: int = _opt("LoRA rank.", 16)
    lora_alpha: int = _opt("LoRA scaling alpha.", 32)
    lora_dropout: float = _opt("LoRA dropout.", 0.05)
    lora_target_modules: list[str] = _opt(
        "Modules that get adapters; all linear layers when empty.", factory=list
    )
    seed: int = _opt("Random seed.", 0)
    resume: bool = _opt("Continue a killed run from its last checkpoint.", False)
    report_to: list[str] | None = _opt(
        "Loggers: tensorboard, mlflow, none; those installed when unset."
    )
    logging_steps: int = _opt("Log the training loss every this many steps.", 10)

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ConfigError(f"--method must be one of {', '.join(METHODS)}. Got {self.method!r}.")
        parse_scope(self.scope)
        positive = {
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "gradient_accumulation": self.gradient_accumulation,
            "lora_r": self.lora_r,
            "lora_alpha": self.lora_alpha,
            "logging_steps": self.logging_steps,
        }
        for name, value in positive.items():
            if not isinstance(value, int) or value <= 0:
                raise ConfigError(f"`{name}` must be a positive int, got {value!r}.")
        if self.max_examples is not None and self.max_examples <= 0:
            raise ConfigError(f"`max_examples` must be a positive int, got {self.max_examples}.")
        if self.patience < 0:
            raise ConfigError(f"`patience` must be 0 or more, got {self.patience}.")
        if self.learning_rate is not None and not 0 < self.learning_rate < 1:
            raise ConfigError(f"`learning_rate` must be in (0, 1), got {self.learning_rate}.")
        if self.max_seq_len is not None and self.max_seq_len < 16:
            raise ConfigError(f"`max_seq_len` must be at least 16, got {self.max_seq_len}.")
        for name in ("weight_decay", "warmup_ratio", "lora_dropout"):
            if not 0 <= getattr(self, name) < 1:
                raise ConfigError(f"`{name}` must be in [0, 1), got {getattr(self, name)}.")

    @property
    def lr(self) -> float:
        if self.learning_rate is not None:
            return self.learning_rate
        return 5e-5 if self.method == "full" else 2e-4

    @property
    def is_adapter(self) -> bool:
        return self.method != "full"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(
                f"Unknown train option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}."
            )
        return cls(**data)

    @classmethod
    def from_yaml(cls, path: Path) -> TrainConfig:
        from tailorai.settings import load_yaml

        data = load_yaml(path)
        return cls.from_dict(data.get("train", data))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
