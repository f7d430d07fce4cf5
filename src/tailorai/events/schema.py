"""The event shape the collector accepts, and its checks.

Segment-spec style: `type` (track, page, identify, feedback), `event` (the action's name, needed
for track and feedback), `user_id` and/or `anonymous_id`, `properties` (for identify: `traits`),
`context` (page url, referrer, user agent, device, screen), `timestamp` (client clock), `sent_at`,
`message_id` (a client-made UUID; made here when absent). camelCase names (`userId`,
`anonymousId`, `messageId`, `sentAt`) are accepted too, as Segment's libraries send them.

Times are corrected for the client's clock skew (`timestamp + (received_at - sent_at)`) and then
clamped into `[received_at - max_age, received_at + 5 minutes]`, flagged `timestamp_clamped`.
An event over 32 KB of JSON is refused.
"""

from __future__ import annotations

import json
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
    "parse_event",
]

MAX_EVENT_BYTES = 32 * 1024
MAX_BATCH_BYTES = 500 * 1024
FUTURE_SLACK = timedelta(minutes=5)
DEFAULT_MAX_AGE = timedelta(days=30)


class InvalidEvent(ValueError):
    """One event that cannot be stored, and why (the message is shown to the client)."""


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
    timestamp = _utc(item.timestamp) or received_at
    sent_at = _utc(item.sent_at)
    if item.timestamp is not None and sent_at is not None:
        timestamp += received_at - sent_at  # the client's clock may be off
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
