"""Training: base models, fine-tuning (full, LoRA, DoRA) with packing, DPO on preference pairs,
and the model registry.

Names are imported on first use: most of them pull in torch and transformers.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "context_length": "tailorai.training.base_model",
    "load_base_model": "tailorai.training.base_model",
    "load_tokenizer": "tailorai.training.base_model",
    "resolve_model_path": "tailorai.training.base_model",
    "DEFAULT_CHAT_TEMPLATE": "tailorai.training.chat_template",
    "chat_template_for": "tailorai.training.chat_template",
    "render_chat": "tailorai.training.chat_template",
    "TrainConfig": "tailorai.training.config",
    "TrainResult": "tailorai.training.finetune",
    "finetune": "tailorai.training.finetune",
    "PreferencePair": "tailorai.training.preferences",
    "load_preferences": "tailorai.training.preferences",
    "ModelVersion": "tailorai.training.registry",
    "Registry": "tailorai.training.registry",
    "train": "tailorai.training.job",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'tailorai.training' has no attribute {name!r}")
