"""The plain records passed between stages.

A `Conversation` is the unit the data pipeline counts as one record: a chat, an email thread, one
feedback-form row. Formatting turns each assistant turn of a conversation into one `Example`.
An `Event` is one thing a user did, as the tracker, the SDK or a server log reports it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = [
    "EVENT_TYPES",
    "ROLES",
    "Conversation",
    "Event",
    "Example",
    "Generation",
    "Message",
    "Quarantined",
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
