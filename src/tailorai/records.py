"""The plain records passed between stages.

A `Conversation` is the unit the data pipeline counts as one record: a chat, an email thread, one
feedback-form row. Formatting turns each assistant turn of a conversation into one `Example`.
An `Event` is one thing a user did, as the tracker, the SDK or a server log reports it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, Protocol

from tailorai.errors import ConfigError

__all__ = [
    "EVENT_TYPES",
    "ROLES",
    "Backend",
    "Conversation",
    "Event",
    "Example",
    "FinishReason",
    "Generation",
    "GenerationRequest",
    "GenerationResult",
    "Message",
    "Quarantined",
    "TextStream",
]

ROLES = ("system", "user", "assistant")
EVENT_TYPES = ("track", "page", "identify", "feedback")


@dataclass(slots=True)
class Message:
    role: str
    content: str
    timestamp: datetime | None = None
    # Filled by the sentences step; cleared by any step that rewrites `content`.
    sentences: list[str] | None = None

    def as_dict(self) -> dict[str, str]:
        return {"role": self.role, "content": self.content}


@dataclass(slots=True)
class Conversation:
    """One record as read from a source, with where it came from."""

    id: str
    user_id: str | None
    messages: list[Message]
    source: str
    line: int
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return "\n".join(m.content for m in self.messages)


@dataclass(slots=True)
class Example:
    """One training example: the turns before an assistant reply, and that reply last."""

    id: str
    user_id: str | None
    conversation_id: str
    messages: list[Message]
    source: str
    meta: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "user_id": self.user_id,
            "messages": [m.as_dict() for m in self.messages],
            "source": self.source,
            "meta": {"conversation_id": self.conversation_id, **self.meta},
        }


@dataclass(slots=True)
class Quarantined:
    """Input that could not be read: kept with its place and the reason, never silently lost."""

    source: str
    line: int
    error: str
    raw: str

    def as_dict(self) -> dict[str, Any]:
        return {"source": self.source, "line": self.line, "error": self.error, "raw": self.raw}


@dataclass(slots=True)
class Event:
    """One user action, Segment-spec style; `timestamp` is when it happened (client clock,
    corrected for skew), `received_at` when the server got it. `flags` name anything the
    collector changed, such as `timestamp_clamped`."""

    type: str
    message_id: str
    timestamp: datetime
    received_at: datetime
    user_id: str | None = None
    anonymous_id: str | None = None
    event: str | None = None
    properties: dict[str, Any] = field(default_factory=dict)
    context: dict[str, Any] = field(default_factory=dict)
    sent_at: datetime | None = None
    flags: list[str] = field(default_factory=list)

    @property
    def who(self) -> str:
        """The id features are kept under: the user id, else the anonymous id."""
        return self.user_id or self.anonymous_id or ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "event": self.event,
            "user_id": self.user_id,
            "anonymous_id": self.anonymous_id,
            "properties": self.properties,
            "context": self.context,
            "timestamp": self.timestamp.isoformat(),
            "sent_at": self.sent_at.isoformat() if self.sent_at else None,
            "received_at": self.received_at.isoformat(),
            "message_id": self.message_id,
            "flags": self.flags,
        }


@dataclass(slots=True)
class Generation:
    """One generated output with everything that made it: who it was for, which rung of the
    ladder, which model version and adapter, which prompt template, which experiment arm.
    Feedback, reports and audits all read this record."""

    id: str
    project_id: str
    task: str
    rung: str
    output: str
    backend: str
    user_id: str | None = None  # None: an anonymous request
    segment: str | None = None
    model_version: str | None = None
    adapter: str | None = None
    template_version: str | None = None
    experiment_arm: str | None = None
    inputs: dict[str, Any] = field(default_factory=dict)
    prompt: list[dict[str, Any]] = field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str | None = None  # "stop" (ended or a stop string) or "length" (cut)
    latency_ms: float = 0.0
    created_at: datetime | None = None
    mean_logprob: float | None = None  # how sure the model was of its reply's tokens

    def as_dict(self) -> dict[str, Any]:
        fields = {name: getattr(self, name) for name in self.__slots__}
        fields["created_at"] = self.created_at.isoformat() if self.created_at else None
        return fields


# -- generation: what a back end is asked and what it answers ---------------------------------

FinishReason = Literal["stop", "length"]


@dataclass(slots=True)
class GenerationRequest:
    """What to generate: chat `messages` (rendered with the chat template) or a ready `prompt`.

    `adapter` is a registered adapter's key (e.g. the registry ref `"segment-buyers@2"`), None
    for the plain base. Decoding: `temperature` 0 is greedy, above it samples within nucleus
    `top_p`; `repetition_penalty` (CTRL's, 1.0 off) and `no_repeat_ngram_size` (0 off) keep a
    small model from looping, which it does within a few sentences when greedy. The defaults
    are what read well on SmolLM2-135M-Instruct (see the README's model section). `stop`
    strings end the reply, and the text is cut where the first one begins.
    """

    messages: Sequence[Mapping[str, str]] | None = None
    prompt: str | None = None
    adapter: str | None = None
    max_new_tokens: int = 64
    stop: Sequence[str] = field(default_factory=list)
    temperature: float = 0.0
    top_p: float = 1.0
    repetition_penalty: float = 1.0
    no_repeat_ngram_size: int = 0

    def __post_init__(self) -> None:
        if (self.messages is None) == (self.prompt is None):
            raise ConfigError(
                "A GenerationRequest needs exactly one of `messages` (chat messages) or `prompt` "
                f"(ready text); got {'both' if self.messages is not None else 'neither'}."
            )
        if self.messages is not None and not self.messages:
            raise ConfigError("`messages` must hold at least one message, got an empty list.")
        if self.prompt is not None and not self.prompt:
            raise ConfigError("`prompt` must not be empty. Pass the text to continue.")
        if not isinstance(self.max_new_tokens, int) or self.max_new_tokens < 1:
            raise ConfigError(
                f"`max_new_tokens` must be a positive int, got {self.max_new_tokens!r}."
            )
        if self.temperature < 0:
            raise ConfigError(
                f"`temperature` must be >= 0 (0 is greedy), got {self.temperature!r}."
            )
        if not 0 < self.top_p <= 1:
            raise ConfigError(f"`top_p` must be in (0, 1], got {self.top_p!r}.")
        if self.repetition_penalty <= 0:
            raise ConfigError(
                f"`repetition_penalty` must be > 0 (1.0 is off), got {self.repetition_penalty!r}."
            )
        if not isinstance(self.no_repeat_ngram_size, int) or self.no_repeat_ngram_size < 0:
            raise ConfigError(
                "`no_repeat_ngram_size` must be an int >= 0 (0 is off), got "
                f"{self.no_repeat_ngram_size!r}."
            )
        if isinstance(self.stop, str) or any(not isinstance(s, str) or not s for s in self.stop):
            raise ConfigError(
                f"`stop` must be a list of non-empty strings, got {self.stop!r}. "
                'Pass e.g. stop=["\\n\\n"].'
            )

    @property
    def decoding(self) -> tuple[float, float, float, int]:
        """The settings rows must share to run in one batch."""
        return (self.temperature, self.top_p, self.repetition_penalty, self.no_repeat_ngram_size)


@dataclass(slots=True)
class GenerationResult:
    """One request's reply; `seconds` is the wall time of the batch it ran in."""

    text: str
    prompt_tokens: int
    completion_tokens: int  # tokens the model produced, the end-of-turn token included
    finish_reason: FinishReason  # "stop": end of turn or a stop string; "length": the limit
    adapter: str | None
    seconds: float
    # The mean log-probability of the reply's tokens: how sure the model was (active learning
    # picks the least sure); None where the back end does not say.
    mean_logprob: float | None = None


class TextStream:
    """The pieces of one reply as they are made; once it is exhausted, `finish_reason` and
    `completion_tokens` say how it ended (None where the back end did not say).

    >>> stream = backend.stream(request)  # doctest: +SKIP
    >>> text = "".join(stream); stream.finish_reason  # doctest: +SKIP
    'length'
    """

    def __init__(self, pieces: Iterator[str] | None = None) -> None:
        self._pieces = pieces
        self.finish_reason: FinishReason | None = None
        self.completion_tokens: int | None = None

    def attach(self, pieces: Iterator[str]) -> TextStream:
        self._pieces = pieces
        return self

    def __iter__(self) -> TextStream:
        return self

    def __next__(self) -> str:
        if self._pieces is None:
            raise StopIteration
        return next(self._pieces)

    def close(self) -> None:
        close = getattr(self._pieces, "close", None)
        if close is not None:
            close()


class Backend(Protocol):
    """A generation back end: `LocalBackend` (a model in this process) or `OpenAIBackend` (any
    OpenAI-compatible server, such as vLLM). The Personalizer, the audit and the simulations
    need only this."""

    tokenizer: Any  # the model's tokenizer, None where unknown (a remote model)
    context_length: int | None

    def has_adapter(self, key: str) -> bool: ...
    def add_adapter(
        self, key: str, path: str | Path, *, chat_template: str | None = None
    ) -> None: ...
    def add_version(self, version: Any, *, key: str | None = None) -> str: ...
    def generate(self, requests: Sequence[GenerationRequest]) -> list[GenerationResult]: ...
    def generate_one(self, request: GenerationRequest) -> GenerationResult: ...
    def stream(self, request: GenerationRequest) -> TextStream: ...
    def prompt_tokens(self, request: GenerationRequest) -> int: ...
    def close(self) -> None: ...
