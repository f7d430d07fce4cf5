"""Small chat examples for the prompting tests."""

from __future__ import annotations

from tailorai.records import Example, Message


def example(id: str, user_id: str | None, prompt: str, reply: str = "ok") -> Example:
    """One exchange, `prompt` from the user and `reply` from the assistant, in its own chat."""
    return Example(
        id=id,
        user_id=user_id,
        conversation_id=f"c-{id}",
        messages=[Message("user", prompt), Message("assistant", reply)],
        source="test",
    )
