"""The model floor, below every stage: which base model, loaded how, in which precision, and how
chat messages become token ids.

    from tailorai.models import load_base_model, load_version, encode_chat
    model, tokenizer = load_base_model()            # the default, SmolLM2-135M-Instruct
    model, tokenizer = load_version(registry.get("global@2"))   # its adapter on its base

Changing the default model is one setting: `base_model` (``TAILOR_BASE_MODEL``). Names are
imported on first use: most of them pull in torch and transformers.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "DEFAULT_MODEL": "tailorai.models.shipped",
    "SHIPPED": "tailorai.models.shipped",
    "shipped_file": "tailorai.models.shipped",
    "SharedBase": "tailorai.models.loading",
    "VersionFiles": "tailorai.models.loading",
    "config_context_length": "tailorai.models.loading",
    "context_length": "tailorai.models.loading",
    "load_base_model": "tailorai.models.loading",
    "load_tokenizer": "tailorai.models.loading",
    "load_version": "tailorai.models.loading",
    "needs_conversion": "tailorai.models.loading",
    "resolve_model_path": "tailorai.models.loading",
    "same_base": "tailorai.models.loading",
    "version_model_dir": "tailorai.models.loading",
    "version_retrieval_k": "tailorai.models.loading",
    "bf16_supported": "tailorai.models.precision",
    "use_bf16": "tailorai.models.precision",
    "DEFAULT_CHAT_TEMPLATE": "tailorai.models.chat_template",
    "chat_template_for": "tailorai.models.chat_template",
    "render_chat": "tailorai.models.chat_template",
    "IGNORE": "tailorai.models.encode",
    "Encoded": "tailorai.models.encode",
    "EncodedPair": "tailorai.models.encode",
    "encode_chat": "tailorai.models.encode",
    "encode_pair": "tailorai.models.encode",
    "last_reply_labels": "tailorai.models.encode",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'tailorai.models' has no attribute {name!r}")
