"""Format: one training example per assistant turn, with the turns before it as context.

Each example is chat messages: the conversation's system message (if any), up to
`context_turns` previous turns starting on a user turn, and the assistant turn last. Consecutive
messages of one role are merged, as chat templates expect roles to alternate.

Lengths are counted in tokens of the chosen base model, rendered with the chat template training
will use (see `tailorai.models.chat_template`): each message's content is tokenized once and
each role's template overhead is measured once. An example over `max_tokens` loses its oldest
context turns, whole turns at a time, so text is never cut mid-token; one that does not fit even
with only the last user turn is dropped (`too_many_tokens`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any

from tailorai.errors import ConfigError
from tailorai.records import Conversation, Example, Message

__all__ = ["Format", "TokenCounter"]

# Record meta that must never reach a dataset file: the user's own personal data.
PRIVATE_META = frozenset({"known_pii"})


class TokenCounter:
    """Token counts of messages as the chat template renders them, for one tokenizer."""

    def __init__(self, tokenizer: Any) -> None:
        from tailorai.models import render_chat

        self.tokenizer = tokenizer
        self.overhead = {
            role: self._count([render_chat(tokenizer, [{"role": role, "content": ""}])])[0]
            for role in ("system", "user", "assistant")
        }

    def _count(self, texts: list[str]) -> list[int]:
        encoded = self.tokenizer(texts, add_special_tokens=False)["input_ids"]
        return [len(ids) for ids in encoded]

    def messages(self, messages: list[Message]) -> list[int]:
        counts = self._count([m.content for m in messages]) if messages else []
        return [n + self.overhead.get(m.role, 0) for n, m in zip(counts, messages, strict=True)]


def _merge_runs(messages: list[Message]) -> list[Message]:
    merged: list[Message] = []
    for message in messages:
        if merged and merged[-1].role == message.role:
            last = merged[-1]
            merged[-1] = Message(last.role, f"{last.content}\n\n{message.content}", last.timestamp)
        else:
            merged.append(Message(message.role, message.content, message.timestamp))
    return merged


class Format:
    """Turn records into examples; counts dropped examples and token lengths."""

    name = "format"

    def __init__(
        self, *, context_turns: int = 6, max_tokens: int | None = None, tokenizer: Any = None
    ) -> None:
        if context_turns < 0:
            raise ConfigError(
                f"The 'context_turns' parameter must be an int >= 0. Got {context_turns} instead."
            )
        if max_tokens is not None and max_tokens <= 0:
            raise ConfigError(
                f"The 'max_tokens' parameter must be a positive int. Got {max_tokens} instead."
            )
        self.context_turns = context_turns
        self.max_tokens = max_tokens
        self.counter = TokenCounter(tokenizer) if tokenizer is not None else None
        self.dropped: Counter[str] = Counter()  # examples, by reason
        self.records_dropped: Counter[str] = Counter()
        self.truncated = 0
        self.token_lengths: list[int] = []

    def examples(self, record: Conversation) -> list[Example]:
        """The examples of one record; why any turn gave none is added to `dropped`."""
        examples, reasons = self._examples(record)
        self.dropped.update(reasons)
        return examples

    def _examples(self, record: Conversation) -> tuple[list[Example], Counter[str]]:
        system = [m for m in record.messages if m.role == "system"][:1]
        turns = _merge_runs([m for m in record.messages if m.role != "system"])
        counts = self.counter.messages(system + turns) if self.counter else None
        meta = {k: v for k, v in record.meta.items() if k not in PRIVATE_META}
        meta["line"] = record.line
        out: list[Example] = []
        reasons: Counter[str] = Counter()
        for index, turn in enumerate(turns):
            if turn.role != "assistant":
                continue
            start = max(0, index - self.context_turns)
            while start < index and turns[start].role != "user":
                start += 1  # context opens on the customer's words, not mid-exchange
            if start == index:
                reasons["no_prompt"] += 1
                continue
            length = None
            if counts is not None:
                at = len(system)  # counts are offset by the system message
                length = sum(counts[:at]) + sum(counts[at + start : at + index + 1])
                trimmed = False
                while self.max_tokens and length > self.max_tokens and start < index - 1:
                    # Drop the oldest turn, then up to the next user turn: whole turns only.
                    length -= counts[at + start]
                    start += 1
                    while start < index - 1 and turns[start].role != "user":
                        length -= counts[at + start]
                        start += 1
                    trimmed = True
                if self.max_tokens and length > self.max_tokens:
                    reasons["too_many_tokens"] += 1
                    continue
                self.truncated += trimmed
                self.token_lengths.append(length)
            messages = system + turns[start : index + 1]
            out.append(
                Example(
                    id=f"{record.id}#{index}",
                    user_id=record.user_id,
                    conversation_id=record.id,
                    messages=[Message(m.role, m.content) for m in messages],
                    source=record.source,
                    meta={**meta, "tokens": length} if length is not None else dict(meta),
                )
            )
        return out, reasons

    def run(self, records: Iterable[Conversation]) -> Iterator[Example]:
        for record in records:
            examples, reasons = self._examples(record)
            self.dropped.update(reasons)
            if examples:
                yield from examples
            else:  # the record taught nothing: say why, preferring the length problem
                reason = "too_many_tokens" if reasons["too_many_tokens"] else "no_prompt"
                self.records_dropped[reason] += 1
