"""Training: base models now; fine-tuning, packing and the registry arrive with their issue."""

from __future__ import annotations

from tailorai.training.base_model import (
    context_length,
    load_base_model,
    load_tokenizer,
    resolve_model_path,
)
from tailorai.training.chat_template import DEFAULT_CHAT_TEMPLATE, chat_template_for, render_chat

__all__ = [
    "DEFAULT_CHAT_TEMPLATE",
    "chat_template_for",
    "context_length",
    "load_base_model",
    "load_tokenizer",
    "render_chat",
    "resolve_model_path",
]
