"""Training: fine-tuning (full, LoRA, DoRA) with packing, DPO on preference pairs, and the model
registry. Base models, chat templates and encoding live a floor below, in `tailorai.models`;
the names re-exported here from there keep older imports working.

Names are imported on first use: most of them pull in torch and transformers.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "context_length": "tailorai.models.loading",
    "load_base_model": "tailorai.models.loading",
    "load_tokenizer": "tailorai.models.loading",
    "resolve_model_path": "tailorai.models.loading",
    "DEFAULT_CHAT_TEMPLATE": "tailorai.models.chat_template",
    "chat_template_for": "tailorai.models.chat_template",
    "render_chat": "tailorai.models.chat_template",
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
