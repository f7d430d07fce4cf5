"""The event shape the collector accepts, and its checks.

Segment-spec style: `type` (track, page, identify, feedback), `event` (the action's name, needed
for track and feedback), `user_id` and/or `anonymous_id`, `properties` (for identify: `traits`),
`context` (page url, referrer, user agent, device, screen), `timestamp` (client clock), `sent_at`,
`message_id` (a client-made UUID; made here when absent). camelCase names (`userId`,
`anonymousId`, `messageId`, `sentAt`) are accepted too, as Segment's libraries send them.

Times are corrected for the client's clock skew (`timestamp + (received_at - sent_at)`) and then
clamped into `[received_at - max_age, received_at + 5 minutes]`, flagged `timestamp_clamped`;
a time the calendar cannot hold in UTC (`9999-12-31T23:59:59-01:00`) is refused. An event over
32 KB of JSON is refused, and so is one nested deeper than 32 levels or holding a number no
database column keeps exactly: an integer outside 64 bits, `1e400`, NaN or Infinity. `loads`
reads such numbers as markers rather than failing the whole body, so that in a batch only the
event holding one is refused, by index.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError

from tailorai.records import Event

__all__ = [
    "MAX_BATCH_BYTES",
    "MAX_EVENT_BYTES",
    "EventIn",
    "InvalidEvent",
    "check_values",
    "loads",
    "parse_event",
]

MAX_EVENT_BYTES = 32 * 1024
MAX_BATCH_BYTES = 500 * 1024
FUTURE_SLACK = timedelta(minutes=5)
DEFAULT_MAX_AGE = timedelta(days=30)
MAX_DEPTH = 32  # objects and arrays within an event
_INT_BOUND = 2**63  # a BIGINT, and what every JSON reader keeps exactly as an integer


class InvalidEvent(ValueError):
    """One event that cannot be stored, and why (the message is shown to the client)."""


class _Unfit:
    """A number the JSON text holds but no column can, as written, for `parse_event` to refuse."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text if len(text) <= 24 else f"{text[:12]}...({len(text)} characters)"


def _int(text: str) -> int | _Unfit:
    # Python refuses to read integers of over 4,300 digits at all: the length comes first.
    if len(text) > 20:
        return _Unfit(text)
    value = int(text)
    return value if -_INT_BOUND <= value < _INT_BOUND else _Unfit(text)


def _float(text: str) -> float | _Unfit:
    value = float(text)
    return value if math.isfinite(value) else _Unfit(text)


def loads(text: str | bytes) -> Any:
    """Parse JSON, keeping numbers no column can hold as markers `parse_event` refuses.

    `ValueError` (which `json.JSONDecodeError` is) for text that is not JSON or is nested
    deeper than Python can parse.
    """
    try:
        return json.loads(text, parse_int=_int, parse_float=_float, parse_constant=_Unfit)
    except RecursionError:
        raise ValueError(f"JSON nested too deep; an event may nest {MAX_DEPTH} levels") from None


def check_values(raw: Any, where: str = "") -> None:
    """`InvalidEvent` naming the first place in `raw` (named `where`) that nests too deep or
    holds a number that cannot be stored (from `loads`, or a non-finite or too large one made
    in Python)."""
    stack: list[tuple[Any, str, int]] = [(raw, where, 0)]
    while stack:
        value, where, depth = stack.pop()
        if isinstance(value, Mapping | list):
            if depth >= MAX_DEPTH:
                raise InvalidEvent(f"{where} is nested deeper than {MAX_DEPTH} levels")
            if isinstance(value, list):
                stack.extend((item, f"{where}[{i}]", depth + 1) for i, item in enumerate(value))
            else:
                stack.extend(
                    (item, f"{where}.{key}" if where else str(key), depth + 1)
                    for key, item in value.items()
                )
            continue
        if isinstance(value, _Unfit):
            shown = value.text
        elif isinstance(value, float) and not math.isfinite(value):
            shown = str(value)
        elif isinstance(value, int) and not -_INT_BOUND <= value < _INT_BOUND:
            shown = f"an integer of {len(str(abs(value)))} digits"
        else:
            continue
        raise InvalidEvent(
            f"{where}: {shown} is not a number that can be stored (integers must fit in 64 "
            "bits, and numbers must be finite: NaN and Infinity are not JSON)"
        )


def _alias(snake: str, camel: str) -> Any:
    return AliasChoices(snake, camel)


class EventIn(BaseModel):
    """An event as clients send it."""

    model_config = ConfigDict(extra="ignore", str_max_length=8192)

    type: Literal["track", "page", "identify", "feedback"] = Field(
        description="What kind of event: track (an action), page (a page view), identify (who "
        "the user is, with traits) or feedback (on a generation)."
    )
    event: str | None = Field(
        None, max_length=255, description="The action's name; required for track and feedback."
    )
    user_id: str | None = Field(None, max_length=255, validation_alias=_alias("user_id", "userId"))
    anonymous_id: str | None = Field(
        None,
        max_length=255,
        validation_alias=_alias("anonymous_id", "anonymousId"),
        description="The browser's or device's id before the user is known.",
    )
    properties: dict[str, Any] = Field(default_factory=dict)
    traits: dict[str, Any] | None = Field(None, description="identify: what is known of the user.")
    context: dict[str, Any] = Field(
        default_factory=dict,
        description="page {url, referrer, title}, user_agent, device {type}, "
        "screen {width, height}.",
    )
    timestamp: datetime | None = Field(None, description="When it happened, client clock.")
    sent_at: datetime | None = Field(None, validation_alias=_alias("sent_at", "sentAt"))
    message_id: str | None = Field(
        None,
        min_length=1,
        max_length=128,
        validation_alias=_alias("message_id", "messageId"),
        description="A client-made unique id (UUID): a resend with the same id is stored once.",
    )


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _in_utc(moment: datetime | None, name: str) -> datetime | None:
    try:
        return _utc(moment)
    except OverflowError:
        assert moment is not None
        raise InvalidEvent(
            f"{name} {moment.isoformat()} is outside the calendar in UTC (years 1 to 9999)"
        ) from None


def _reason(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors(include_url=False):
        where = ".".join(str(p) for p in error["loc"]) or "event"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)


def parse_event(
    raw: Any,
    received_at: datetime,
    *,
    default_type: str | None = None,
    max_age: timedelta | None = DEFAULT_MAX_AGE,
    size: int | None = None,
) -> Event:
    """Check one raw event and make it an `Event`; `InvalidEvent` says what is wrong.

    `default_type` fills a missing `type` (the endpoint `/v1/track` means track); `max_age`
    None keeps old timestamps (log imports); `size` is the event's JSON size when known.
    """
    if not isinstance(raw, Mapping):
        raise InvalidEvent(f"an event must be a JSON object, got {type(raw).__name__}")
    check_values(raw)
    if size is None:
        size = len(json.dumps(raw, separators=(",", ":"), default=str))
    if size > MAX_EVENT_BYTES:
        raise InvalidEvent(f"event is {size} bytes of JSON; the limit is {MAX_EVENT_BYTES}")
    if "type" not in raw:
        if default_type is None:
            raise InvalidEvent("`type` is missing: one of track, page, identify, feedback")
        raw = {**raw, "type": default_type}
    try:
        item = EventIn.model_validate(raw)
    except ValidationError as exc:
        raise InvalidEvent(_reason(exc)) from None
    if not item.user_id and not item.anonymous_id:
        raise InvalidEvent("an event needs user_id or anonymous_id (or both)")
    if item.type in ("track", "feedback") and not item.event:
        raise InvalidEvent(f"a {item.type} event needs `event`, the name of what happened")
    flags = []
    timestamp = _in_utc(item.timestamp, "timestamp") or received_at
    sent_at = _in_utc(item.sent_at, "sent_at")
    if item.timestamp is not None and sent_at is not None:
        try:
            timestamp += received_at - sent_at  # the client's clock may be off
        except OverflowError:
            raise InvalidEvent(
                f"timestamp {item.timestamp.isoformat()} corrected by sent_at "
                f"{item.sent_at.isoformat()} falls outside the calendar"
            ) from None
    latest = received_at + FUTURE_SLACK
    earliest = received_at - max_age if max_age is not None else None
    if timestamp > latest or (earliest is not None and timestamp < earliest):
        timestamp = received_at
        flags.append("timestamp_clamped")
    properties = item.properties
    if item.type == "identify" and item.traits is not None:
        properties = {**properties, **item.traits}
    return Event(
        type=item.type,
        event=item.event,
        user_id=item.user_id or None,
        anonymous_id=item.anonymous_id or None,
        properties=properties,
        context=item.context,
        timestamp=timestamp,
        sent_at=sent_at,
        received_at=received_at,
        message_id=item.message_id or str(uuid.uuid4()),
        flags=flags,
    )
