"""`TrainConfig`: every option of `tailor train`, validated, saved beside every model version."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

from tailorai.config_section import ConfigSection, option
from tailorai.errors import ConfigError

__all__ = ["METHODS", "TrainConfig", "parse_scope"]

METHODS = ("full", "lora", "dora", "qlora", "dpo")
_SCOPE = re.compile(r"^(global|segment:[\w.\-]+|user:[\w.@\-]+)$")


def parse_scope(scope: str) -> tuple[str, str | None]:
    """`"segment:buyers"` → `("segment", "buyers")`; `"global"` → `("global", None)`."""
    if not _SCOPE.match(scope):
        raise ConfigError(
            f"--scope must be global, segment:NAME, segment:all or user:ID. Got {scope!r} instead."
        )
    kind, _, value = scope.partition(":")
    return kind, value or None


@dataclass
class TrainConfig(ConfigSection):
    """Options of `tailor train`; also the `train:` section of `tailor.yaml`.

    Defaults follow common practice: AdamW with weight decay 0.01 and linear warmup, learning
    rate 5e-5 for full fine-tuning and 2e-4 for LoRA/DoRA, 4 epochs with evaluation every epoch
    and early stopping on validation loss. `dpo` trains a LoRA adapter on preference pairs
    (`preferences.jsonl`) with a tenth of the LoRA learning rate and 4 pairs a step.
    """

    yaml_section: ClassVar[str] = "train"

    data: str = option(
        "Dataset folder from `tailor data prepare` (train/validation.jsonl), or with "
        "preferences.jsonl for dpo.",
        "",
    )
    base_model: str | None = option(
        "A shipped model (smollm2, stories260k), hub id, folder or .gguf file; the settings' "
        "base_model (smollm2) when unset."
    )
    precision: str | None = option(
        "auto, bf16 or fp32: bf16 runs the forward and backward under bfloat16 autocast (float32 "
        "weights and optimizer); auto does where the hardware has fast bfloat16 and the model "
        "is big enough to gain; the settings' precision when unset."
    )
    method: str = option(
        "full, lora, dora, qlora (QLoRA needs a CUDA GPU) or dpo (a LoRA adapter trained on "
        "preference pairs).",
        "lora",
    )
    scope: str = option("global, segment:NAME, segment:all or user:ID.", "global")
    group_by: str = option(
        "Example meta field that names segments (for segment scopes).", "segment"
    )
    name: str | None = option("Registry name of the version; derived from the scope when unset.")
    init_from: str | None = option(
        "An adapter version (name@N) to start from; segment and user adapters start from the "
        "production global adapter when unset."
    )
    max_examples: int | None = option(
        "Train on at most this many examples and validate on a quarter as many, sampled with "
        "the seed (quick runs, demos)."
    )
    learning_rate: float | None = option(
        "Peak learning rate; 5e-5 (full), 2e-4 (LoRA) or 2e-5 (dpo) if unset."
    )
    epochs: int = option("Training epochs (early stopping may end sooner).", 4)
    batch_size: int | None = option(
        "Examples per optimizer step before accumulation (packed rows without varlen attention); "
        "8 when unset, or 4 preference pairs for dpo (each pair is two sequences, and the "
        "reference model reads both again)."
    )
    gradient_accumulation: int = option("Steps whose gradients add up before each update.", 1)
    weight_decay: float = option("AdamW weight decay.", 0.01)
    warmup_ratio: float = option("Share of steps with a linear learning-rate warmup.", 0.1)
    max_grad_norm: float = option("Gradient clipping norm.", 1.0)
    patience: int = option("Epochs without validation improvement before stopping.", 2)
    max_seq_len: int | None = option("Packed sequence length; the model's context when unset.")
    packing: bool = option(
        "Pack examples without padding: end to end with per-example attention, or into "
        "full-length rows with a block-diagonal mask for models whose attention is fixed.",
        True,
    )
    retrieval_k: int = option(
        "Retrieval-augmented training (as LaMP and OPPU): each example is prompted with up to "
        "this many of its user's other training examples, retrieved by BM25 on its request, as "
        "earlier turns, and only its final reply is learned. The version then reads as many of "
        "the user's own examples wherever it is served or evaluated (0: plain examples).",
        0,
    )
    lora_r: int = option("LoRA rank.", 16)
    lora_alpha: int = option("LoRA scaling alpha.", 32)
    # Zero by default: a dropout copies the input of every adapted layer, which made LoRA no
    # faster than full fine-tuning on CPU (1.86 s vs 1.87 s a step; 1.49 s without it, 26M
    # model). Early stopping and the refusal of runs that never improve guard overfitting.
    lora_dropout: float = option("LoRA dropout on the adapters' input (0: none, fastest).", 0.0)
    lora_target_modules: list[str] = option(
        "Modules that get adapters; all linear layers when empty.", factory=list
    )
    seed: int = option("Random seed.", 0)
    resume: bool = option("Continue a killed run from its last checkpoint.", False)
    report_to: list[str] | None = option(
        "Loggers: tensorboard, mlflow, none; those installed when unset."
    )
    logging_steps: int = option("Log the training loss every this many steps.", 10)
    min_pairs: int = option(
        "dpo: fewest preference pairs to train on; with fewer, the run stops with the counts.", 16
    )
    beta: float = option(
        "dpo: how strongly the adapter is held to its starting point (the reference); higher "
        "stays closer.",
        0.1,
    )
    validation_share: float = option(
        "dpo: share of the preference pairs held out for validation, drawn with the seed.", 0.2
    )
    canaries: int = option(
        "Plant this many random canary secrets in an audit copy of the training examples; "
        "`tailor audit` checks the model does not give them back (0: none).",
        0,
    )
    canary_copies: int = option("Times each canary is planted.", 1)

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ConfigError(f"--method must be one of {', '.join(METHODS)}. Got {self.method!r}.")
        parse_scope(self.scope)
        if self.batch_size is None:
            self.batch_size = 4 if self.method == "dpo" else 8
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
        if self.precision is not None and self.precision not in ("auto", "bf16", "fp32"):
            raise ConfigError(f"`precision` must be auto, bf16 or fp32, got {self.precision!r}.")
        if self.max_examples is not None and self.max_examples <= 0:
            raise ConfigError(f"`max_examples` must be a positive int, got {self.max_examples}.")
        if (
            isinstance(self.retrieval_k, bool)
            or not isinstance(self.retrieval_k, int)
            or not 0 <= self.retrieval_k <= 16
        ):
            raise ConfigError(f"`retrieval_k` must be an int in [0, 16], got {self.retrieval_k!r}.")
        if not isinstance(self.canaries, int) or not 0 <= self.canaries <= 256:
            raise ConfigError(f"`canaries` must be an int in [0, 256], got {self.canaries!r}.")
        if not isinstance(self.canary_copies, int) or self.canary_copies < 1:
            raise ConfigError(
                f"`canary_copies` must be a positive int, got {self.canary_copies!r}."
            )
        if self.patience < 0:
            raise ConfigError(f"`patience` must be 0 or more, got {self.patience}.")
        if self.learning_rate is not None and not 0 < self.learning_rate < 1:
            raise ConfigError(f"`learning_rate` must be in (0, 1), got {self.learning_rate}.")
        if self.max_seq_len is not None and self.max_seq_len < 16:
            raise ConfigError(f"`max_seq_len` must be at least 16, got {self.max_seq_len}.")
        for name in ("weight_decay", "warmup_ratio", "lora_dropout"):
            if not 0 <= getattr(self, name) < 1:
                raise ConfigError(f"`{name}` must be in [0, 1), got {getattr(self, name)}.")
        if not isinstance(self.min_pairs, int) or self.min_pairs < 2:
            # One pair to learn from and one to validate on, at the very least.
            raise ConfigError(f"`min_pairs` must be an int of 2 or more, got {self.min_pairs!r}.")
        if not 0 < self.validation_share < 1:
            raise ConfigError(f"`validation_share` must be in (0, 1), got {self.validation_share}.")
        if not self.beta > 0:
            raise ConfigError(f"`beta` must be positive, got {self.beta}.")

    @property
    def lr(self) -> float:
        if self.learning_rate is not None:
            return self.learning_rate
        return {"full": 5e-5, "dpo": 2e-5}.get(self.method, 2e-4)

    @property
    def is_adapter(self) -> bool:
        return self.method != "full"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
