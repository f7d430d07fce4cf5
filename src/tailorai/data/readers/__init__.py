"""Readers: every input format becomes `Conversation` records, or `Quarantined` when unreadable.

- `chat-jsonl` (`.jsonl`, `.ndjson`, `.json`): a conversation per line, or a message per line.
- `email` (`.eml`, `.mbox`): threads rebuilt from In-Reply-To / References.
- `feedback-csv` (any other `.csv`): `user_id,prompt,response,rating,comment,timestamp`.
- `support-csv` (`.csv` with `instruction,response,intent`): the Bitext customer-support sample.
- `persona-csv` (`.csv` with `Best Generated Conversation`): the Synthetic Persona Chat sample.
- `sms` (`label<TAB>text` lines): the UCI SMS Spam Collection sample.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from tailorai.data.readers.chat_jsonl import read_chat_jsonl
from tailorai.data.readers.emails import read_emails
from tailorai.data.readers.feedback_csv import parse_columns, read_feedback_csv
from tailorai.data.readers.samples import read_persona_csv, read_sms, read_support_csv
from tailorai.errors import ConfigError, DataError
from tailorai.records import Conversation, Quarantined

__all__ = ["FORMATS", "detect_format", "expand_inputs", "parse_columns", "read_inputs"]

FORMATS = ("chat-jsonl", "email", "feedback-csv", "support-csv", "persona-csv", "sms")
_BY_SUFFIX = {
    ".jsonl": "chat-jsonl",
    ".ndjson": "chat-jsonl",
    ".json": "chat-jsonl",
    ".eml": "email",
    ".mbox": "email",
}


def detect_format(path: Path) -> str | None:
    """The format of `path` from its extension, or from its first line; None when unknown."""
    if path.suffix.lower() in _BY_SUFFIX:
        return _BY_SUFFIX[path.suffix.lower()]
    try:
        with path.open(encoding="utf-8", errors="replace", newline="") as f:
            first = f.readline()
            if path.suffix.lower() == ".csv":
                f.seek(0)
                header = next(csv.reader(f), [])
                if {"instruction", "response", "intent"} <= set(header):
                    return "support-csv"
                if "Best Generated Conversation" in header:
                    return "persona-csv"
                return "feedback-csv"
    except OSError as exc:
        raise DataError(f"Cannot read {path}: {exc.strerror}. Check its permissions.") from exc
    if first.startswith(("ham\t", "spam\t")):
        return "sms"
    if first.startswith("From ") or first.lower().startswith(("received:", "message-id:")):
        return "email"
    return None


def expand_inputs(paths: Sequence[str | Path]) -> list[Path]:
    """Files named directly, and files inside named folders (recursively, hidden ones skipped)."""
    if not paths:
        raise DataError("No input given. Name at least one file or folder to read.")
    files: list[Path] = []
    for item in map(Path, paths):
        if item.is_dir():
            files.extend(
                p
                for p in sorted(item.rglob("*"))
                if p.is_file() and not any(part.startswith(".") for part in p.parts[-1:])
            )
        elif item.is_file():
            files.append(item)
        else:
            raise DataError(f"Input {item} does not exist. Check the path and try again.")
    return files


def read_inputs(
    paths: Sequence[str | Path],
    *,
    format: str | None = None,
    columns: Mapping[str, str] | None = None,
    our_addresses: Sequence[str] = (),
) -> Iterator[Conversation | Quarantined]:
    """Read every input; `format` forces one format for all of them instead of detecting it."""
    if format is not None and format not in FORMATS:
        raise ConfigError(f"Unknown --format {format!r}; use one of {', '.join(FORMATS)}.")
    files = expand_inputs(paths)
    named = {Path(p) for p in paths if Path(p).is_file()}
    emails: list[Path] = []
    for path in files:
        kind = format or detect_format(path)
        if kind is None:
            if path in named:
                raise DataError(
                    f"Cannot tell the format of {path}. Pass --format with one of "
                    f"{', '.join(FORMATS)}."
                )
            yield Quarantined(str(path), 0, f"{path}: unknown file format, skipped", "")
        elif kind == "email":
            emails.append(path)  # read together below, so threads can span files
        elif kind == "chat-jsonl":
            yield from read_chat_jsonl(path)
        elif kind == "feedback-csv":
            yield from read_feedback_csv(path, columns)
        elif kind == "support-csv":
            yield from read_support_csv(path)
        elif kind == "persona-csv":
            yield from read_persona_csv(path)
        else:
            yield from read_sms(path)
    if emails:
        yield from read_emails(emails, our_addresses=our_addresses)
