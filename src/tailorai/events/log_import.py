"""Events from server logs: nginx/Apache combined log format, or JSONL events.

Combined format: a GET becomes a `page` event, any other method a `track` event named
"HTTP POST" (etc.); requests for static files (images, scripts, styles, fonts) are skipped and
counted. The visitor's anonymous id is a hash of IP and user agent, so the raw IP is not stored;
an authenticated user (the log's third field) is the user id.

JSONL: one event per line, in the shape `/v1/events` takes. Old timestamps are kept (a log is
history), future ones clamped.

Importing is idempotent: an event without a message id gets one made from its line's text (and
how many identical lines came before it), so importing the same file twice stores it once.
Lines that cannot be read are quarantined with their line number and reason, never dropped
silently.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tailorai.errors import DataError
from tailorai.events.schema import InvalidEvent, parse_event
from tailorai.records import Event, Quarantined

__all__ = ["FORMATS", "ImportReport", "import_events"]

FORMATS = ("combined", "jsonl")
_COMBINED = re.compile(
    r'^(?P<ip>\S+) \S+ (?P<user>\S+) \[(?P<time>[^\]]+)\] "(?P<method>[A-Z]+) (?P<target>\S+)'
    r'(?: [^"]*)?" (?P<status>\d{3}) (?P<bytes>\d+|-)(?: "(?P<referrer>[^"]*)" "(?P<agent>[^"]*)")?'
)
_ASSET = re.compile(r"\.(?:css|js|mjs|map|png|jpe?g|gif|svg|ico|webp|avif|woff2?|ttf|eot)$", re.I)


@dataclass
class ImportReport:
    lines: int = 0
    stored: int = 0
    duplicates: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    quarantined: list[Quarantined] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "lines": self.lines,
            "stored": self.stored,
            "duplicates": self.duplicates,
            "skipped": dict(self.skipped),
            "quarantined": len(self.quarantined),
        }


def _line_id(text: str, seen: Counter[str]) -> str:
    seen[text] += 1
    return hashlib.sha256(f"{text}\n#{seen[text]}".encode()).hexdigest()[:32]


def _combined(text: str, received_at: datetime) -> tuple[Event | str, bool]:
    """An event from one combined-format line (or the reason to skip it, prefixed `skip:`),
    and whether the line gave the event its own message id (never, here)."""
    match = _COMBINED.match(text)
    if match is None:
        raise InvalidEvent("not in combined log format")
    try:
        when = datetime.strptime(match["time"], "%d/%b/%Y:%H:%M:%S %z")
    except ValueError as exc:
        raise InvalidEvent(f"bad time [{match['time']}]: {exc}") from None
    path = urlsplit(match["target"]).path
    if _ASSET.search(path):
        return "skip:static_file", False
    agent = match["agent"] or ""
    visitor = hashlib.sha256(f"{match['ip']}|{agent}".encode()).hexdigest()[:24]
    method = match["method"]
    raw: dict[str, Any] = {
        "type": "page" if method == "GET" else "track",
        "event": None if method == "GET" else f"HTTP {method}",
        "anonymousId": visitor,
        "userId": None if match["user"] == "-" else match["user"],
        "timestamp": when.isoformat(),
        "properties": {
            "path": path,
            "status": int(match["status"]),
            "bytes": 0 if match["bytes"] == "-" else int(match["bytes"]),
        },
        "context": {
            "page": {"path": path, "url": match["target"], "referrer": match["referrer"] or ""},
            "user_agent": agent,
            "source": "server_log",
        },
    }
    return parse_event(raw, received_at, max_age=None), False


def _jsonl(text: str, received_at: datetime) -> tuple[Event, bool]:
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidEvent(f"not valid JSON: {exc}") from None
    own_id = isinstance(raw, dict) and bool(raw.get("messageId") or raw.get("message_id"))
    return parse_event(raw, received_at, max_age=None), own_id


def _events(path: Path, fmt: str, report: ImportReport) -> Iterator[Event]:
    parse: Callable[[str, datetime], tuple[Event | str, bool]] = (
        _combined if fmt == "combined" else _jsonl
    )
    received_at = datetime.now(UTC)
    seen: Counter[str] = Counter()
    with path.open(encoding="utf-8", errors="replace") as lines:
        for number, line in enumerate(lines, 1):
            text = line.rstrip("\n")
            if not text.strip():
                continue
            report.lines += 1
            try:
                event, own_id = parse(text, received_at)
            except InvalidEvent as exc:
                report.quarantined.append(Quarantined(str(path), number, str(exc), text))
                continue
            if isinstance(event, str):
                report.skipped[event.removeprefix("skip:")] += 1
                continue
            if not own_id:  # the same line imported again must get the same id
                event.message_id = _line_id(text, seen)
            yield event


def import_events(
    path: str | Path,
    fmt: str,
    project_id: str,
    stream: Any,
    features: Any = None,
    *,
    batch_size: int = 1000,
) -> ImportReport:
    """Read a log file into `stream` (and `features`, when given) for `project_id`."""
    path = Path(path)
    if fmt not in FORMATS:
        raise DataError(f"Unknown log format {fmt!r}: use one of {', '.join(FORMATS)}.")
    if not path.is_file():
        raise DataError(f"No log file at {path}. Pass the path of a {fmt} log.")
    report = ImportReport()
    batch: list[Event] = []

    def flush() -> None:
        result = stream.append(project_id, batch)
        report.stored += result.stored
        report.duplicates += result.duplicates
        if features is not None:
            features.update(project_id, result.new)
        batch.clear()

    for event in _events(path, fmt, report):
        batch.append(event)
        if len(batch) >= batch_size:
            flush()
    if batch:
        flush()
    return report
