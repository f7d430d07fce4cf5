"""Adapters for the public sample datasets shipped with tailorai (see assets/PROVENANCE.md).

- `support-csv` (Bitext customer support): `instruction` is the customer's turn, `response` the
  agent's; `intent` and `category` go to `meta`. The data has no user ids.
- `persona-csv` (Synthetic Persona Chat): "User 1: …" turns are the user, "User 2: …" the
  assistant; user 1's persona facts make the user id (`persona-<hash>`) and both personas go to
  `meta`, ready as context cues.
- `sms` (UCI SMS Spam Collection, `label<TAB>text`): each message becomes the reply to a short
  instruction that names its kind ("Write a promotional text message." for spam, "Write a casual
  text message." for ham), so real marketing and personal texts can teach a style.
"""

from __future__ import annotations

import csv
import hashlib
import re
from collections.abc import Iterator
from pathlib import Path

from tailorai.records import Conversation, Message, Quarantined

__all__ = ["read_persona_csv", "read_sms", "read_support_csv"]

SMS_INSTRUCTIONS = {
    "spam": "Write a promotional text message.",
    "ham": "Write a casual text message.",
}
# A few dialogues write turns in Markdown bold: "*User 1:* Hi".
_TURN = re.compile(r"^\s*\**\s*User ([12])\s*:\s*\**\s?(.*)$")


def _rows(path: Path) -> Iterator[tuple[int, list[str], list[str]]]:
    """(start line, header, row) for each CSV row, where rows may span several lines."""
    with path.open(encoding="utf-8", errors="replace", newline="") as f:
        reader = csv.reader(f)
        header = next(reader, [])
        line = reader.line_num + 1
        for row in reader:
            start, line = line, reader.line_num + 1
            if any(cell.strip() for cell in row):
                yield start, header, row


def read_support_csv(path: Path) -> Iterator[Conversation | Quarantined]:
    source = str(path)
    for line, header, row in _rows(path):
        if len(row) != len(header):
            error = f"{path.name} line {line}: {len(row)} fields, the header has {len(header)}"
            yield Quarantined(source, line, error, ",".join(row)[:2000])
            continue
        cell = dict(zip(header, row, strict=True))
        if not cell.get("instruction", "").strip() or not cell.get("response", "").strip():
            error = f"{path.name} line {line}: instruction and response must both be non-empty"
            yield Quarantined(source, line, error, ",".join(row)[:2000])
            continue
        yield Conversation(
            id=f"{path.name}:{line}",
            user_id=None,
            messages=[Message("user", cell["instruction"]), Message("assistant", cell["response"])],
            source=source,
            line=line,
            meta={"intent": cell.get("intent"), "category": cell.get("category")},
        )


def _persona(text: str) -> list[str]:
    return [fact.strip() for fact in text.splitlines() if fact.strip()]


def read_persona_csv(path: Path) -> Iterator[Conversation | Quarantined]:
    source = str(path)
    for line, header, row in _rows(path):
        if len(row) != len(header) or len(row) < 3:
            error = f"{path.name} line {line}: {len(row)} fields, the header has {len(header)}"
            yield Quarantined(source, line, error, ",".join(row)[:2000])
            continue
        user_persona, assistant_persona, dialogue = row[0], row[1], row[2]
        messages: list[Message] = []
        for text_line in dialogue.splitlines():
            turn = _TURN.match(text_line)
            if turn:
                role = "user" if turn.group(1) == "1" else "assistant"
                messages.append(Message(role, turn.group(2).strip()))
            elif messages and text_line.strip():  # a turn that runs over several lines
                messages[-1].content += "\n" + text_line.strip()
        if not messages:
            error = f"{path.name} line {line}: no 'User 1:' / 'User 2:' turns in the dialogue"
            yield Quarantined(source, line, error, ",".join(row)[:2000])
            continue
        persona_key = hashlib.sha1(user_persona.strip().encode()).hexdigest()[:10]
        yield Conversation(
            id=f"{path.name}:{line}",
            user_id=f"persona-{persona_key}",
            messages=messages,
            source=source,
            line=line,
            meta={
                "user_persona": _persona(user_persona),
                "assistant_persona": _persona(assistant_persona),
            },
        )


def read_sms(path: Path) -> Iterator[Conversation | Quarantined]:
    source = str(path)
    with path.open(encoding="utf-8", errors="replace") as f:
        for line, raw in enumerate(f, start=1):
            if not raw.strip():
                continue
            label, sep, text = raw.rstrip("\n").partition("\t")
            label = label.strip().lower()
            if not sep or label not in SMS_INSTRUCTIONS or not text.strip():
                error = (
                    f"{path.name} line {line}: expected 'ham<TAB>text' or 'spam<TAB>text', "
                    f"got {raw[:40]!r}"
                )
                yield Quarantined(source, line, error, raw[:2000])
                continue
            yield Conversation(
                id=f"{path.name}:{line}",
                user_id=None,
                messages=[Message("user", SMS_INSTRUCTIONS[label]), Message("assistant", text)],
                source=source,
                line=line,
                meta={"label": label},
            )
