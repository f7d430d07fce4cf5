"""Small builders for records in tests."""

from __future__ import annotations

from tailorai.records import Conversation, Message


def conv(*turns: str, id: str = "c", user_id: str | None = "u", **meta) -> Conversation:
    """`conv("hi", "hello")`: alternating user/assistant turns, user first."""
    roles = ["user", "assistant"]
    messages = [Message(roles[i % 2], text) for i, text in enumerate(turns)]
    return Conversation(id=id, user_id=user_id, messages=messages, source="test", line=1, meta=meta)
