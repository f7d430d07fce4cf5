"""The embedded event stream: the `events` table of the SQL store.

`append` stores a batch in one transaction and returns only after it committed; a message id
already stored for the project (a client's retry, a duplicate in the batch) is acknowledged and
not stored again, by the table's unique key, so concurrent duplicate sends are safe too.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from tailorai.records import Event
from tailorai.store.tables import EventRow

__all__ = ["AppendResult", "SqlEventStream", "event_from_row"]


@dataclass(frozen=True, slots=True)
class AppendResult:
    stored: int
    duplicates: int
    new: list[Event] = field(default_factory=list)  # the events stored now, in order


def _row(project_id: str, event: Event) -> dict[str, Any]:
    return {
        "project_id": project_id,
        "message_id": event.message_id,
        "type": event.type,
        "event": event.event,
        "user_id": event.user_id,
        "anonymous_id": event.anonymous_id,
        "user_key": event.who,
        "properties": event.properties,
        "context": event.context,
        "timestamp": event.timestamp,
        "sent_at": event.sent_at,
        "received_at": event.received_at,
        "flags": event.flags,
    }


_COLUMNS = (
    "project_id, message_id, type, event, user_id, anonymous_id, user_key, properties, context, "
    "timestamp, sent_at, received_at, flags"
)
_SQLITE_ROWS = 500  # 13 parameters a row, well under SQLite's 32,766 a statement


def _sqlite_time(moment: datetime | None) -> str | None:
    # The text SQLAlchemy's SQLite DateTime writes and reads back: UTC wall time, microseconds.
    if moment is None:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _insert_sqlite(connection: Any, project_id: str, events: Sequence[Event]) -> set[str]:
    """The message ids stored now. Plain DB-API, one multi-row INSERT per 500 events: on the
    capture path SQLAlchemy's per-value processing cost as much as SQLite's own work."""
    dumps = json.dumps
    stored: set[str] = set()
    for start in range(0, len(events), _SQLITE_ROWS):
        chunk = events[start : start + _SQLITE_ROWS]
        values: list[Any] = []
        for e in chunk:
            values += (
                project_id,
                e.message_id,
                e.type,
                e.event,
                e.user_id,
                e.anonymous_id,
                e.who,
                dumps(e.properties),
                dumps(e.context),
                _sqlite_time(e.timestamp),
                _sqlite_time(e.sent_at),
                _sqlite_time(e.received_at),
                dumps(e.flags),
            )
        placeholders = ",".join(["(?,?,?,?,?,?,?,?,?,?,?,?,?)"] * len(chunk))
        sql = (
            f"INSERT INTO events ({_COLUMNS}) VALUES {placeholders} "
            "ON CONFLICT (project_id, message_id) DO NOTHING RETURNING message_id"
        )
        stored.update(row[0] for row in connection.exec_driver_sql(sql, tuple(values)))
    return stored


def _utc(moment: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes; every stored time is UTC.
    return moment.replace(tzinfo=UTC) if moment and moment.tzinfo is None else moment


def event_from_row(row: EventRow) -> Event:
    return Event(
        type=row.type,
        message_id=row.message_id,
        timestamp=_utc(row.timestamp),
        received_at=_utc(row.received_at),
        user_id=row.user_id,
        anonymous_id=row.anonymous_id,
        event=row.event,
        properties=row.properties,
        context=row.context,
        sent_at=_utc(row.sent_at),
        flags=list(row.flags or []),
    )


class SqlEventStream:
    """Events in the store's `events` table, read back in arrival order."""

    def __init__(self, store: Any) -> None:
        self.store = store
        dialect = store.engine.dialect.name
        self._insert = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}[dialect]

    def append(
        self,
        project_id: str,
        events: Sequence[Event],
        *,
        then: Callable[[Any, list[Event]], Any] | None = None,
    ) -> AppendResult:
        """Store `events` durably, each message id once; how many were new.

        `then(connection, new_events)` runs inside the same transaction before it commits
        (the collector updates user features there: one commit for both)."""
        unique = list({e.message_id: e for e in reversed(events)}.values())[::-1]
        if not unique:
            return AppendResult(0, len(events))
        with self.store.engine.begin() as connection:
            if connection.dialect.name == "sqlite":
                stored = _insert_sqlite(connection, project_id, unique)
            else:
                statement = (
                    self._insert(EventRow)
                    .on_conflict_do_nothing(index_elements=["project_id", "message_id"])
                    .returning(EventRow.message_id)
                )
                rows = [_row(project_id, e) for e in unique]
                stored = set(connection.execute(statement, rows).scalars())
            new = [e for e in unique if e.message_id in stored]
            if then is not None and new:
                then(connection, new)
        return AppendResult(len(new), len(events) - len(new), new)

    def read(
        self, project_id: str, *, after: int = 0, limit: int = 1000, user: str | None = None
    ) -> list[tuple[int, Event]]:
        """Stored events with an id above `after`, oldest first, as (id, event)."""
        query = select(EventRow).where(EventRow.project_id == project_id, EventRow.id > after)
        if user is not None:
            query = query.where(EventRow.user_key == user)
        query = query.order_by(EventRow.id).limit(limit)
        with self.store.session() as s:
            return [(row.id, event_from_row(row)) for row in s.scalars(query)]

    def recent(self, project_id: str, user: str, limit: int = 20) -> list[Event]:
        """A user's newest events, newest first."""
        query = (
            select(EventRow)
            .where(EventRow.project_id == project_id, EventRow.user_key == user)
            .order_by(EventRow.id.desc())
            .limit(limit)
        )
        with self.store.session() as s:
            return [event_from_row(row) for row in s.scalars(query)]
