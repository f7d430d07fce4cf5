"""Chat examples to token ids, with the loss on the assistant's turns only.

A conversation is rendered with the chat template (`render_chat`) and tokenized once, with
character offsets. The characters each assistant turn adds, from the end of its generation
prompt to the end of the turn, are found by rendering the conversation up to that point; tokens
inside those spans are learned, all others get the label -100. The span ends after the template's
end-of-turn token, so the model learns to stop.

Generation encodes prompts with the same function (`add_generation_prompt=True`) and the
template saved with the model version (`template=`), so the ids a model sees when asked are
exactly those it was trained on. Preference pairs (`encode_pair`) are encoded the same way: the
prompt as generation sees it, then each reply's tokens through its end-of-turn token.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tailorai.errors import ConfigError
from tailorai.models.chat_template import render_chat

__all__ = ["IGNORE", "Encoded", "EncodedPair", "encode_chat", "encode_pair", "last_reply_labels"]

IGNORE = -100  # the label the loss skips


@dataclass(slots=True)
class Encoded:
    input_ids: list[int]
    labels: list[int]

    def __len__(self) -> int:
        return len(self.input_ids)

    @property
    def learned(self) -> int:
        return sum(label != IGNORE for label in self.labels)


@dataclass(slots=True)
class EncodedPair:
    prompt_ids: list[int]
    chosen_ids: list[int]
    rejected_ids: list[int]

    def __len__(self) -> int:
        """The longer of the two sequences a pair becomes (prompt and reply)."""
        return len(self.prompt_ids) + max(len(self.chosen_ids), len(self.rejected_ids))


def _assistant_spans(
    tokenizer: Any, messages: Sequence[Mapping[str, str]], text: str, template: str | None
) -> list[tuple[int, int]]:
    spans = []
    for index, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        before = render_chat(
            tokenizer, messages[:index], add_generation_prompt=True, template=template
        )
        through = render_chat(tokenizer, messages[: index + 1], template=template)
        if not (text.startswith(before) and text.startswith(through)):
            raise ConfigError(
                "The chat template does not render a conversation's beginning the same way as "
                "the whole conversation, so assistant turns cannot be located for the loss mask. "
                "Use a template that renders messages one after another (e.g. the default)."
            )
        spans.append((len(before), len(through)))
    return spans


def encode_chat(
    tokenizer: Any,
    messages: Sequence[Mapping[str, str]],
    *,
    add_generation_prompt: bool = False,
    template: str | None = None,
) -> Encoded:
    """Token ids of `messages` as the chat template renders them, and their training labels.

    >>> encoded = encode_chat(tokenizer, [{"role": "user", "content": "Hi"},
    ...                                  {"role": "assistant", "content": "Hello"}])
    >>> encoded.learned  # the tokens of "Hello</s>\\n"
    """
    text = render_chat(
        tokenizer, messages, add_generation_prompt=add_generation_prompt, template=template
    )
    spans = [] if add_generation_prompt else _assistant_spans(tokenizer, messages, text, template)
    encoding = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids: list[int] = list(encoding["input_ids"])
    labels = [IGNORE] * len(ids)
    for i, (start, end) in enumerate(encoding["offset_mapping"]):
        if any(s <= start and end <= e and end > start for s, e in spans):
            labels[i] = ids[i]
    bos = getattr(tokenizer, "bos_token_id", None)
    if bos is not None and (not ids or ids[0] != bos):
        # Causal LMs were pretrained with BOS first; generation adds it, so training must too.
        ids.insert(0, bos)
        labels.insert(0, IGNORE)
    return Encoded(ids, labels)


def last_reply_labels(labels: Sequence[int]) -> list[int]:
    """Only the last run of learned labels kept: the final assistant turn. Earlier assistant
    turns (a few-shot example, a retrieved one) become context, neither learned nor scored."""
    end = len(labels)
    while end > 0 and labels[end - 1] == IGNORE:
        end -= 1
    start = end
    while start > 0 and labels[start - 1] != IGNORE:
        start -= 1
    return [IGNORE] * start + list(labels[start:end]) + [IGNORE] * (len(labels) - end)


def _common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return i
    return min(len(a), len(b))


def encode_pair(
    tokenizer: Any, prompt: Sequence[Mapping[str, str]], chosen: str, rejected: str
) -> EncodedPair:
    """A preference pair's ids: the prompt as generation encodes it, then each reply's own.

    A reply's ids are those `encode_chat` gives the whole conversation after the prompt's, so
    they end with the turn's end token, as in supervised training.
    """
    asked = encode_chat(tokenizer, prompt, add_generation_prompt=True).input_ids
    replies = []
    shared = len(asked)
    for reply in (chosen, rejected):
        ids = encode_chat(tokenizer, [*prompt, {"role": "assistant", "content": reply}]).input_ids
        # Tokens can merge across the prompt's end; the replies then start where ids diverge.
        shared = min(shared, _common_prefix(asked, ids))
        replies.append(ids)
    return EncodedPair(asked[:shared], replies[0][shared:], replies[1][shared:])
