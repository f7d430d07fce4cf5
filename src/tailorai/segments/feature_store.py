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

from sqlalchemy import delete, func, select
from sqlalchemy.dialects import postgresql, sqlite

from tailorai.records import Event
from tailorai.segments.features import UserFeatures, compute_features
from tailorai.store.tables import UserFeatureRow, UserRow

# Identify traits that name or reach a person are not kept in the users table: the audits and
# segments need attributes (gender, age, plan), not contact details.
DIRECT_IDENTIFIERS = frozenset(
    {"email", "phone", "name", "first_name", "last_name", "firstName", "lastName", "address",
     "ip", "username", "avatar", "birthday"}
)  # fmt: skip

__all__ = ["FeatureStore", "UserRecord"]


@dataclass(frozen=True, slots=True)
class UserRecord:
    user: str
    features: UserFeatures
    segment: str | None
    updated_at: datetime


def _record(row: UserFeatureRow) -> UserRecord:
    updated = row.updated_at
    if updated.tzinfo is None:
        updated = updated.replace(tzinfo=UTC)
    return UserRecord(row.user_key, UserFeatures.from_dict(row.state), row.segment, updated)


class FeatureStore:
    def __init__(self, store: Any, assigner: Any = None) -> None:
        """`assigner` (a `segmentation.Assigner`) re-assigns users whose features change."""
        self.store = store
        self.assigner = assigner
        # One writer per process: states are read, changed and written back.
        self._lock = threading.Lock()

    def update(
        self, project_id: str, events: Sequence[Event], *, connection: Any = None
    ) -> dict[str, UserFeatures]:
        """Fold newly stored `events` into their users' states; the states touched.

        With `connection`, inside its transaction (the collector's, so events and features
        commit together); else in a transaction of its own."""
        # An anonymous visitor who identified is that user from now on, history included.
        linked = {
            e.anonymous_id: e.user_id
            for e in events
            if e.user_id and e.anonymous_id and e.anonymous_id != e.user_id
        }
        by_user: dict[str, list[Event]] = defaultdict(list)
        for event in events:
            if event.who:
                by_user[linked.get(event.who, event.who)].append(event)
        if not by_user:
            return {}
        with self._lock:
            if connection is not None:
                return self._update(connection, project_id, by_user, linked)
            with self.store.engine.begin() as own:
                return self._update(own, project_id, by_user, linked)

    def _update(
        self,
        connection: Any,
        project_id: str,
        by_user: dict[str, list[Event]],
        linked: dict[str, str],
    ) -> dict[str, UserFeatures]:
        table = UserFeatureRow.__table__
        query = select(table.c.user_key, table.c.state, table.c.segment).where(
            table.c.project_id == project_id,
            table.c.user_key.in_([*by_user, *linked]),
        )
        if connection.dialect.name == "postgresql":
            query = query.with_for_update()
        found = connection.execute(query).all()
        known = {user: state for user, state, _ in found}
        segments = {user: segment for user, _, segment in found}
        touched, rows = {}, []
        now = datetime.now(UTC)
        merged = [anonymous for anonymous in linked if anonymous in known]
        for user, user_events in by_user.items():
            state = UserFeatures.from_dict(known[user]) if user in known else UserFeatures()
            for anonymous in merged:
                if linked[anonymous] == user:
                    state.merge(UserFeatures.from_dict(known[anonymous]))
            for event in user_events:
                state.update(event)
            touched[user] = state
            rows.append(
                {
                    "project_id": project_id,
                    "user_key": user,
                    "state": state.as_dict(),
                    "updated_at": now,
                }
            )
        insert = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}[
            connection.dialect.name
        ](table)
        connection.execute(
            insert.on_conflict_do_update(
                index_elements=["project_id", "user_key"],
                set_={"state": insert.excluded.state, "updated_at": insert.excluded.updated_at},
            ),
            rows,
        )
        if merged:  # their history now lives under the user id
            connection.execute(
                delete(table).where(table.c.project_id == project_id, table.c.user_key.in_(merged))
            )
        _remember_traits(connection, project_id, by_user, now)
        if self.assigner is not None:
            self.assigner.apply(connection, project_id, touched, segments)
        return touched

    def get(self, project_id: str, user: str) -> UserRecord | None:
        with self.store.session() as s:
            row = s.get(UserFeatureRow, (project_id, user))
            return None if row is None else _record(row)

    def get_many(self, project_id: str, users: Sequence[str]) -> dict[str, UserRecord]:
        """The known users among `users`, by user id (unknown ones are left out)."""
        found: dict[str, UserRecord] = {}
        unique = list(dict.fromkeys(users))
        with self.store.session() as s:
            for start in range(0, len(unique), 500):
                query = select(UserFeatureRow).where(
                    UserFeatureRow.project_id == project_id,
                    UserFeatureRow.user_key.in_(unique[start : start + 500]),
                )
                found.update((row.user_key, _record(row)) for row in s.scalars(query))
        return found

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

    def users_in(self, project_id: str, segment: str, limit: int | None = None) -> list[str]:
        """The users currently in `segment`, in id order."""
        query = (
            select(UserFeatureRow.user_key)
            .where(UserFeatureRow.project_id == project_id, UserFeatureRow.segment == segment)
            .order_by(UserFeatureRow.user_key)
            .limit(limit)
        )
        with self.store.session() as s:
            return list(s.scalars(query))

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


def _remember_traits(
    connection: Any, project_id: str, by_user: dict[str, list[Event]], now: datetime
) -> None:
    """Merge identified users' traits (direct identifiers left out) into the users table."""
    traits: dict[str, dict[str, Any]] = {}
    for user, events in by_user.items():
        for event in events:
            if event.type == "identify" and event.user_id:
                kept = {k: v for k, v in event.properties.items() if k not in DIRECT_IDENTIFIERS}
                traits.setdefault(user, {}).update(kept)
    if not traits:
        return
    table = UserRow.__table__
    known = dict(
        connection.execute(
            select(table.c.id, table.c.traits).where(
                table.c.project_id == project_id, table.c.id.in_(list(traits))
            )
        ).all()
    )
    insert = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}[connection.dialect.name](
        table
    )
    connection.execute(
        insert.on_conflict_do_update(
            index_elements=["project_id", "id"],
            set_={"traits": insert.excluded.traits, "last_seen": insert.excluded.last_seen},
        ),
        [
            {
                "project_id": project_id,
                "id": user,
                "traits": {**(known.get(user) or {}), **new},
                "first_seen": now,
                "last_seen": now,
            }
            for user, new in traits.items()
        ],
    )
