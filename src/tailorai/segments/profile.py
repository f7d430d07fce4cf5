"""A user's profile: features as of now, segment and recent events, as the API returns it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

__all__ = ["user_profile"]


def user_profile(
    features: Any, stream: Any, project_id: str, user: str, recent: int = 20
) -> dict[str, Any] | None:
    """What is known of `user` now, or None when nothing is.

    `features` is a `FeatureStore`, `stream` an event stream with `recent()`.
    """
    record = features.get(project_id, user)
    events = stream.recent(project_id, user, recent) if recent else []
    if record is None and not events:
        return None
    return {
        "user_id": user,
        "segment": record.segment if record else None,
        "features": record.features.values(datetime.now(UTC)) if record else None,
        "updated_at": record.updated_at.isoformat() if record else None,
        "recent_events": [e.as_dict() for e in events],
    }
