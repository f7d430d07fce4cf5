"""`FeatureStore`: every user's feature state in the SQL store, kept current event by event.

The collector hands each batch of newly stored events (never a duplicate) to `update`, which
reads the touched users' states, folds the events in and writes them back in one transaction.
The state is derived data: `recompute` rebuilds a user's from the stored events and gives the
same values (the test suite checks that it does).
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from tailorai.records import Event
from tailorai.segments.features import UserFeatures, compute_features
from tailorai.store.tables import UserFeatureRow

__all__ = ["FeatureStore", "UserRecord"]


@dataclass(frozen=True, slots=True)
class UserRecord:
    user: str
    features: UserFeatures
    segment: str | None
    updated_at: datetime


class FeatureStore:
    def __init__(self, store: Any) -> None:
        self.store = store
        # One writer per process: states are read, changed and written back.
        self._lock = threading.Lock()

    def update(self, project_id: str, events: Sequence[Event]) -> dict[str, UserFeatures]:
        """Fold newly stored `events` into their users' states; the states touched."""
        by_user: dict[str, list[Event]] = defaultdict(list)
        for event in events:
            if event.who:
                by_user[event.who].append(event)
        if not by_user:
            return {}
        now = datetime.now(UTC)
        touched = {}
        with self._lock, self.store.session() as s:
            rows = {
                row.user_key: row
                for row in s.scalars(
                    select(UserFeatureRow)
                    .where(
                        UserFeatureRow.project_id == project_id,
                        UserFeatureRow.user_key.in_(list(by_user)),
                    )
                    .with_for_update()
                )
            }
            for user, user_events in by_user.items():
                row = rows.get(user)
                state = UserFeatures.from_dict(row.state) if row else UserFeatures()
                for event in user_events:
                    state.update(event)
                if row is None:
                    s.add(
                        UserFeatureRow(
                            project_id=project_id,
                            user_key=user,
                            state=state.as_dict(),
                            updated_at=now,
                        )
                    )
                else:
                    row.state = state.as_dict()
                    row.updated_at = now
                touched[user] = state
        return touched

    def get(self, project_id: str, user: str) -> UserRecord | None:
        with self.store.session() as s:
            row = s.get(UserFeatureRow, (project_id, user))
            if row is None:
                return None
            updated = row.updated_at
            if updated.tzinfo is None:
                updated = updated.replace(tzinfo=UTC)
            return UserRecord(user, UserFeatures.from_dict(row.state), row.segment, updated)

    def recompute(self, project_id: str, user: str, stream: Any) -> UserFeatures:
        """Rebuild `user`'s state from every stored event, in stored order, and save it."""
        events, after = [], 0
        while batch := stream.read(project_id, after=after, limit=10_000, user=user):
            events += [event for _, event in batch]
            after = batch[-1][0]
        state = compute_features(events)
        with self._lock, self.store.session() as s:
            row = s.get(UserFeatureRow, (project_id, user))
            if row is None:
                s.add(UserFeatureRow(project_id=project_id, user_key=user, state=state.as_dict()))
            else:
                row.state = state.as_dict()
                row.updated_at = datetime.now(UTC)
        return state

    def segment_sizes(self, project_id: str) -> dict[str | None, int]:
        """Users per segment (None: not assigned yet), largest first."""
        query = (
            select(UserFeatureRow.segment, func.count())
            .where(UserFeatureRow.project_id == project_id)
            .group_by(UserFeatureRow.segment)
        )
        with self.store.session() as s:
            sizes = {segment: int(n) for segment, n in s.execute(query)}
        return dict(sorted(sizes.items(), key=lambda item: -item[1]))
