"""The prompt for one request: system prompt and cues, the user's own examples, the request.

The messages are, in order: one system message (the task's template for the user's segment, or
its `lapsed` one for a user who has lapsed, then the context cues where the task puts them
there), the retrieved examples as alternating user/assistant turns (most similar first), and the
user's current request (followed by the cues as sentences for tasks with `cues: request`).
Zero-shot is the same prompt with `k=0`.

With a tokenizer the prompt is counted as the model will see it, rendered through
`tailorai.training.render_chat` with the generation prompt. If it is over `max_tokens`, retrieved
examples are dropped, least similar first, until it fits; if it does not fit even with none,
`PromptTooLong` is raised: nothing is ever cut silently.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tailorai.errors import ConfigError, ModelError
from tailorai.prompting.cues import context_cues, context_sentences, is_lapsed
from tailorai.prompting.retrieval import Retriever, own_examples
from tailorai.prompting.templates import LAPSED_SEGMENT, TemplateSet

__all__ = ["ANSWER_TOKENS", "Prompt", "PromptBuilder", "PromptTooLong"]

ANSWER_TOKENS = 128  # kept free for the answer when max_tokens comes from the context length
# Tokenizers that do not know their model's length report a huge sentinel (1e30) instead.
_UNKNOWN_LENGTH = 10**8


class PromptTooLong(ConfigError):
    """The prompt does not fit in the token budget even without any retrieved example."""


@dataclass(frozen=True, slots=True)
class Prompt:
    """Chat messages ready for a back end, and what went into them (for the generation record)."""

    messages: list[dict[str, str]]
    user_id: str | None
    task: str
    segment: str  # the template's segment: "default" when the user's segment has none
    template_version: str
    example_ids: list[str] = field(default_factory=list)
    dropped_example_ids: list[str] = field(default_factory=list)  # retrieved, over the budget
    tokens: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "messages": [dict(m) for m in self.messages],
            "user_id": self.user_id,
            "task": self.task,
            "segment": self.segment,
            "template_version": self.template_version,
            "example_ids": list(self.example_ids),
            "dropped_example_ids": list(self.dropped_example_ids),
            "tokens": self.tokens,
        }


def _model_context(tokenizer: Any) -> int:
    length = getattr(tokenizer, "model_max_length", None)
    if isinstance(length, int) and 0 < length < _UNKNOWN_LENGTH:
        return length
    name = getattr(tokenizer, "name_or_path", None)
    if name:
        from tailorai.training import context_length

        try:
            found = context_length(name)
        except ModelError:
            found = None
        if found:
            return found
    raise ConfigError(
        "Could not tell the model's context length from its tokenizer or config. Pass "
        "max_tokens to PromptBuilder."
    )


class PromptBuilder:
    """Build prompts from templates, context cues and a user's own retrieved examples.

    `max_tokens` defaults to the model's context length minus `answer_tokens`; it needs a
    tokenizer to count with. Without a tokenizer prompts are not counted or limited, and without
    a retriever every prompt is zero-shot.

    Example::

        builder = PromptBuilder(TemplateSet.load(), BM25Retriever().fit(train), tokenizer)
        prompt = builder.build(user_id="u1", task="chat_reply", inputs={"message": "Hi"})
    """

    def __init__(
        self,
        templates: TemplateSet | str | Path | None = None,
        retriever: Retriever | None = None,
        tokenizer: Any = None,
        max_tokens: int | None = None,
        *,
        answer_tokens: int = ANSWER_TOKENS,
    ) -> None:
        if not isinstance(templates, TemplateSet):
            templates = TemplateSet.load(templates)
        for name, value in (("max_tokens", max_tokens), ("answer_tokens", answer_tokens)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise ConfigError(
                    f"The '{name}' parameter of PromptBuilder must be an int. Got {value!r} "
                    "instead."
                )
        if max_tokens is not None and max_tokens <= 0:
            raise ConfigError(
                "The 'max_tokens' parameter of PromptBuilder must be a positive int. "
                f"Got {max_tokens} instead."
            )
        if answer_tokens < 0:
            raise ConfigError(
                "The 'answer_tokens' parameter of PromptBuilder must be an int >= 0. "
                f"Got {answer_tokens} instead."
            )
        if max_tokens is not None and tokenizer is None:
            raise ConfigError(
                "PromptBuilder got max_tokens but no tokenizer to count tokens with. Pass the "
                "model's tokenizer, e.g. tailorai.load_tokenizer()."
            )
        if max_tokens is None and tokenizer is not None:
            context = _model_context(tokenizer)
            max_tokens = context - answer_tokens
            if max_tokens <= 0:
                raise ConfigError(
                    f"The model's context of {context} tokens leaves no room for a prompt after "
                    f"{answer_tokens} answer tokens. Lower answer_tokens or pass max_tokens."
                )
        self.templates = templates
        self.retriever = retriever
        self.tokenizer = tokenizer
        self.max_tokens = max_tokens
        self.answer_tokens = answer_tokens

    def count(self, messages: list[dict[str, str]]) -> int:
        """Tokens of `messages` rendered by the chat template, with the generation prompt."""
        from tailorai.training import render_chat

        if self.tokenizer is None:
            raise ConfigError("PromptBuilder has no tokenizer to count tokens with.")
        text = render_chat(self.tokenizer, messages, add_generation_prompt=True)
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def build(
        self,
        *,
        user_id: str | None,
        task: str,
        inputs: Mapping[str, Any],
        segment: str | None = None,
        features: Mapping[str, Any] | None = None,
        k: int = 3,
        exclude_ids: Collection[str] = (),
    ) -> Prompt:
        """The prompt for one request; `k` retrieved examples at most (0: zero-shot)."""
        if isinstance(k, bool) or not isinstance(k, int) or k < 0:
            raise ConfigError(
                f"The 'k' parameter of PromptBuilder.build must be an int >= 0. Got {k!r} instead."
            )
        if is_lapsed(features) and self.templates.has(task, LAPSED_SEGMENT):
            segment = LAPSED_SEGMENT  # recency is fresher than the segment assignment
        template = self.templates.get(task, segment)
        system = template.system(inputs)
        request = template.user(inputs)
        if template.cues == "request":
            sentences = context_sentences(features)
            if sentences:
                request = f"{request.rstrip()}{'' if request.rstrip()[-1:] in '.!?' else '.'} "
                request += sentences
        else:
            cues = context_cues(features)
            if cues:
                system = f"{system}\n\n{cues}"
        shots = own_examples(self.retriever, user_id, request, k, exclude_ids)

        def compose(n: int) -> list[dict[str, str]]:
            messages = [{"role": "system", "content": system}]
            for _, (prompt, reply) in shots[:n]:
                messages += [
                    {"role": "user", "content": prompt},
                    {"role": "assistant", "content": reply},
                ]
            messages.append({"role": "user", "content": request})
            return messages

        n = len(shots)
        messages = compose(n)
        tokens = None
        if self.tokenizer is not None:
            tokens = self.count(messages)
            while self.max_tokens is not None and tokens > self.max_tokens and n > 0:
                n -= 1  # shots are ranked best first: the last one is the least similar
                messages = compose(n)
                tokens = self.count(messages)
            if self.max_tokens is not None and tokens > self.max_tokens:
                raise PromptTooLong(
                    f"The prompt for task '{task}' (template {template.segment}, version "
                    f"{template.version}) needs {tokens} tokens even without examples, over the "
                    f"budget of {self.max_tokens}. Shorten the request or the system prompt, "
                    "raise max_tokens, or use a model with a longer context."
                )
        return Prompt(
            messages=messages,
            user_id=user_id,
            task=task,
            segment=template.segment,
            template_version=template.version,
            example_ids=[example.id for example, _ in shots[:n]],
            dropped_example_ids=[example.id for example, _ in shots[n:]],
            tokens=tokens,
        )
