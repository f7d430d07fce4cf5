"""Chat logs as JSON Lines, in both shapes exports come in.

One conversation per line::

    {"user_id": "u1", "conversation_id": "c1", "messages": [{"role": "user", "content": "Hi",
     "timestamp": "2024-05-01T10:00:00Z"}, ...]}

One message per line, grouped by `conversation_id` and ordered by timestamp::

    {"user_id": "u1", "conversation_id": "c1", "role": "user", "content": "Hi", "timestamp": ...}

Optional `user_name`, `user_email` and `user_phone` fields tell the anonymizer the user's own
personal data, so it is always caught.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tailorai.records import Conversation, Message, Quarantined

__all__ = ["parse_timestamp", "read_chat_jsonl"]

ROLE_ALIASES = {
    "user": "user",
    "customer": "user",
    "human": "user",
    "client": "user",
    "assistant": "assistant",
    "agent": "assistant",
    "bot": "assistant",
    "support": "assistant",
    "ai": "assistant",
    "gpt": "assistant",
    "system": "system",
}
_KNOWN_PII_FIELDS = {
    "user_name": "PERSON",
    "user_email": "EMAIL_ADDRESS",
    "user_phone": "PHONE_NUMBER",
}


class _BadRecord(ValueError):
    pass


def parse_timestamp(value: Any) -> datetime | None:
    """ISO 8601 text or Unix seconds (or milliseconds) to an aware datetime; None stays None."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise _BadRecord(f"timestamp must be ISO 8601 text or a number, got {value!r}")
    if isinstance(value, int | float):
        seconds = value / 1000 if value > 1e11 else value
        return datetime.fromtimestamp(seconds, UTC)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise _BadRecord(
                f"timestamp {value!r} is not ISO 8601 (e.g. 2024-05-01T10:00:00Z)"
            ) from None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    raise _BadRecord(f"timestamp must be ISO 8601 text or a number, got {value!r}")


def _message(obj: Any) -> Message:
    if not isinstance(obj, dict):
        raise _BadRecord(f"a message must be an object, got {type(obj).__name__}")
    role = ROLE_ALIASES.get(str(obj.get("role", "")).strip().lower())
    if role is None:
        raise _BadRecord(
            f"unknown role {obj.get('role')!r}; use one of user, assistant, system "
            f"(or {', '.join(sorted(k for k in ROLE_ALIASES if k not in ('user', 'assistant')))})"
        )
    content = obj.get("content")
    if not isinstance(content, str):
        raise _BadRecord(f"message content must be text, got {type(content).__name__}")
    return Message(role=role, content=content, timestamp=parse_timestamp(obj.get("timestamp")))


def _known_pii(obj: dict[str, Any]) -> dict[str, list[str]]:
    known: dict[str, list[str]] = {}
    for key, entity in _KNOWN_PII_FIELDS.items():
        value = obj.get(key)
        if isinstance(value, str) and value.strip():
            known.setdefault(entity, []).append(value.strip())
    return known


def _user_id(obj: dict[str, Any]) -> str | None:
    value = obj.get("user_id")
    return None if value is None else str(value)


@dataclass
class _Pending:
    """Message lines of one conversation, gathered until the file ends."""

    user_id: str | None
    line: int
    meta: dict[str, Any]
    messages: list[tuple[datetime | None, int, Message]] = field(default_factory=list)


def read_chat_jsonl(path: Path) -> Iterator[Conversation | Quarantined]:
    """Read a chat-log JSONL file; bad lines come out as `Quarantined`, the rest as records."""
    source = str(path)
    pending: dict[str, _Pending] = {}
    with path.open(encoding="utf-8", errors="replace") as f:
        for number, raw in enumerate(f, start=1):
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw)
                if not isinstance(obj, dict):
                    raise _BadRecord(f"expected a JSON object, got {type(obj).__name__}")
                if "messages" in obj:
                    messages = obj["messages"]
                    if not isinstance(messages, list) or not messages:
                        raise _BadRecord("'messages' must be a non-empty list")
                    conv_id = str(obj.get("conversation_id") or f"{path.name}:{number}")
                    yield Conversation(
                        id=conv_id,
                        user_id=_user_id(obj),
                        messages=[_message(m) for m in messages],
                        source=source,
                        line=number,
                        meta={"known_pii": _known_pii(obj)},
                    )
                    continue
                if "conversation_id" not in obj:
                    raise _BadRecord(
                        "a line needs either 'messages' (one conversation per line) or "
                        "'conversation_id', 'role' and 'content' (one message per line)"
                    )
                message = _message(obj)
                conv_id = str(obj["conversation_id"])
                group = pending.setdefault(
                    conv_id, _Pending(_user_id(obj), number, {"known_pii": {}})
                )
                for entity, values in _known_pii(obj).items():
                    known = group.meta["known_pii"].setdefault(entity, [])
                    known.extend(v for v in values if v not in known)
                if group.user_id is None:
                    group.user_id = _user_id(obj)
                group.messages.append((message.timestamp, number, message))
            except (json.JSONDecodeError, _BadRecord) as exc:
                yield Quarantined(source, number, f"{path.name} line {number}: {exc}", raw[:2000])
    for conv_id, group in pending.items():
        # Messages without a timestamp keep their file order among themselves.
        ordered = sorted(
            group.messages,
            key=lambda t: (t[0] or datetime.min.replace(tzinfo=UTC), t[1]),
        )
        yield Conversation(
            id=conv_id,
            user_id=group.user_id,
            messages=[m for _, _, m in ordered],
            source=source,
            line=group.line,
            meta=group.meta,
        )
