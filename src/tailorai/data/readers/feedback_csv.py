"""Feedback forms as CSV: one prompt, the response shown, and what the user thought of it.

Default columns: `user_id,prompt,response,rating,comment,timestamp`. Other exports are mapped
with `columns={"prompt": "question", "response": "answer"}` (our name → the file's name), which
the CLI takes as `--columns prompt=question,response=answer`.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Mapping
from pathlib import Path

from tailorai.errors import ConfigError, DataError
from tailorai.records import Conversation, Message, Quarantined

__all__ = ["FEEDBACK_COLUMNS", "parse_columns", "read_feedback_csv"]

FEEDBACK_COLUMNS = ("user_id", "prompt", "response", "rating", "comment", "timestamp")
_REQUIRED = ("prompt", "response")


def parse_columns(spec: str | None) -> dict[str, str]:
    """`"prompt=question,response=answer"` → `{"prompt": "question", "response": "answer"}`."""
    if not spec:
        return {}
    mapping: dict[str, str] = {}
    for part in spec.split(","):
        ours, sep, theirs = part.partition("=")
        ours, theirs = ours.strip(), theirs.strip()
        if not sep or not ours or not theirs:
            raise ConfigError(
                f"--columns takes OURS=THEIRS pairs separated by commas, got {part!r} "
                "(e.g. --columns prompt=question,response=answer)."
            )
        if ours not in FEEDBACK_COLUMNS:
            raise ConfigError(
                f"--columns names unknown column {ours!r}; ours are {', '.join(FEEDBACK_COLUMNS)}."
            )
        mapping[ours] = theirs
    return mapping


def read_feedback_csv(
    path: Path, columns: Mapping[str, str] | None = None
) -> Iterator[Conversation | Quarantined]:
    """Each row becomes a user prompt and the assistant response, with rating and comment."""
    from tailorai.data.readers.chat_jsonl import parse_timestamp  # shared timestamp rules

    names = {ours: (columns or {}).get(ours, ours) for ours in FEEDBACK_COLUMNS}
    source = str(path)
    with path.open(encoding="utf-8", errors="replace", newline="") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None:
            return
        header = [h.strip() for h in header]
        missing = [names[c] for c in _REQUIRED if names[c] not in header]
        if missing:
            raise DataError(
                f"{path}: the header has no column {', '.join(map(repr, missing))} "
                f"(it has {', '.join(header)}). Map yours with --columns "
                f"prompt=YOUR_PROMPT_COLUMN,response=YOUR_RESPONSE_COLUMN."
            )
        index = {ours: header.index(theirs) for ours, theirs in names.items() if theirs in header}
        line = reader.line_num + 1
        for row in reader:
            start, line = line, reader.line_num + 1
            if not any(cell.strip() for cell in row):
                continue
            raw = ",".join(row)[:2000]
            if len(row) != len(header):
                error = f"{path.name} line {start}: {len(row)} fields, the header has {len(header)}"
                yield Quarantined(source, start, error, raw)
                continue
            cell = {ours: row[i].strip() for ours, i in index.items()}
            problem = None
            if not cell["prompt"] or not cell["response"]:
                problem = "prompt and response must both be non-empty"
            rating: float | None = None
            timestamp = None
            try:
                rating = float(cell["rating"]) if cell.get("rating") else None
            except ValueError:
                problem = problem or f"rating {cell['rating']!r} is not a number"
            try:
                timestamp = parse_timestamp(cell.get("timestamp"))
            except ValueError as exc:
                problem = problem or str(exc)
            if problem:
                yield Quarantined(source, start, f"{path.name} line {start}: {problem}", raw)
                continue
            user_id = cell.get("user_id") or None
            yield Conversation(
                id=f"{path.name}:{start}",
                user_id=user_id,
                messages=[
                    Message("user", cell["prompt"], timestamp),
                    Message("assistant", cell["response"], timestamp),
                ],
                source=source,
                line=start,
                meta={"rating": rating, "comment": cell.get("comment") or None},
            )
