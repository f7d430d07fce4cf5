"""Events: the shape of what users do, the collector's checks, and the streams that hold them."""

from __future__ import annotations

from tailorai.events.client import Client
from tailorai.events.schema import (
    MAX_BATCH_BYTES,
    MAX_EVENT_BYTES,
    EventIn,
    InvalidEvent,
    parse_event,
)
from tailorai.events.sql_stream import AppendResult, SqlEventStream

__all__ = [
    "MAX_BATCH_BYTES",
    "MAX_EVENT_BYTES",
    "AppendResult",
    "Client",
    "EventIn",
    "InvalidEvent",
    "SqlEventStream",
    "parse_event",
]
