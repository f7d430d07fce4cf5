"""Counts over stored events, for the dashboard and reports."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from tailorai.store.tables import EventRow

__all__ = ["event_counts", "events_per_minute"]


def events_per_minute(
    store: Any, project_id: str, *, minutes: int = 60, now: datetime | None = None
) -> list[int]:
    """Events received in each of the last `minutes` minutes, oldest first."""
    now = now or datetime.now(UTC)
    start = now - timedelta(minutes=minutes)
    query = select(EventRow.received_at).where(
        EventRow.project_id == project_id, EventRow.received_at >= start
    )
    counts = [0] * minutes
    with store.session() as s:
        for (received,) in s.execute(query):
            if received.tzinfo is None:
                received = received.replace(tzinfo=UTC)
            index = int((received - start).total_seconds() // 60)
            if 0 <= index < minutes:
                counts[index] += 1
    return counts


def event_counts(store: Any, project_id: str) -> dict[str, int]:
    """Stored events by type, and in all (`total`)."""
    query = (
        select(EventRow.type, func.count())
        .where(EventRow.project_id == project_id)
        .group_by(EventRow.type)
    )
    with store.session() as s:
        counts = {kind: int(n) for kind, n in s.execute(query)}
    counts["total"] = sum(counts.values())
    return counts
