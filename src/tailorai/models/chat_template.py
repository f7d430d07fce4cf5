"""The chat template examples are rendered with, for training and for generation alike.

A model's own template (`tokenizer.chat_template`) wins. For models that have none, such as the
shipped stories260k, tailorai uses this documented ChatML-style default, which ends every turn
with the tokenizer's end-of-sequence token (`</s>` here)::

    <|im_start|>user
    Where is my order?</s>
    <|im_start|>assistant
    It ships today.</s>

Ending turns with EOS, and keeping it inside the loss mask, is what teaches a model to stop: a
base model already knows that token, and `generate` stops on it without extra configuration.

The template used is saved with every model version, so generation renders prompts exactly as
training did.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["DEFAULT_CHAT_TEMPLATE", "chat_template_for", "render_chat"]

DEFAULT_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + eos_token + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def chat_template_for(tokenizer: Any) -> str:
    """The tokenizer's own chat template, or the default above when it has none."""
    return getattr(tokenizer, "chat_template", None) or DEFAULT_CHAT_TEMPLATE


def render_chat(
    tokenizer: Any,
    messages: Sequence[Mapping[str, str]],
    *,
    add_generation_prompt: bool = False,
    template: str | None = None,
) -> str:
    """Render messages as text; `template` (a version's saved one) overrides the tokenizer's."""
    return str(
        tokenizer.apply_chat_template(
            [dict(m) for m in messages],
            chat_template=template or chat_template_for(tokenizer),
            tokenize=False,
            add_generation_prompt=add_generation_prompt,
        )
    )
