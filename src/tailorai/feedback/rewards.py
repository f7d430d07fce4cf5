"""One reward per generation, from what users said and what they did after seeing it.

Explicit feedback (thumbs, stars, comments, corrections) comes from `POST /v1/feedback`,
`tailor feedback import` and "feedback" events (`tracker.js`'s and the client's `feedback()`).
Implicit feedback comes from events that carry `properties.generation_id`, as the tracker and
the client attach to events on generated content:

- "Content Shown": an exposure (its time starts the clock for session length);
- "Content Clicked" or "Email Clicked": a click-through;
- "Page Left" with `dwell_ms`: dwell time on the content; under `bounce_s` it is a bounce;
- "Order Completed" or "Form Submitted": a conversion;
- any later event of the same user, with no gap over 30 minutes: session length after exposure.

The reward (weights and targets in `tailor.yaml`'s `feedback:` part, defaults below):

    reward = 1.0·thumbs (+1 up, -1 down)  + 1.0·(stars - 3)/2   - 0.5·corrected
           + 0.3·clicked + 0.2·min(dwell / 30 s, 1) - 0.3·bounced + 1.0·converted
           + 0.1·min(session / 300 s, 1)

A signal nobody sent adds nothing. A generation is `negative` when it got a thumbs down, one
or two stars, or a correction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from sqlalchemy import Integer, func, select
from sqlalchemy.dialects import postgresql, sqlite

from tailorai.config_section import ConfigSection, option
from tailorai.segments.features import SESSION_GAP
from tailorai.store.tables import (
    CursorRow,
    EventRow,
    FeedbackRow,
    GenerationRewardRow,
    GenerationRow,
)

__all__ = ["RewardConfig", "Rewards", "over_time"]

SHOWN = "Content Shown"
CLICKS = ("Content Clicked", "Email Clicked")
LEFT = "Page Left"
CONVERSIONS = ("Order Completed", "Form Submitted")
FEEDBACK_TYPE = "feedback"
_CURSOR = "rewards"


@dataclass
class RewardConfig(ConfigSection):
    yaml_section: ClassVar[str] = "feedback"
    thumbs: float = option("Weight of a thumbs up (+1) or down (-1).", 1.0)
    rating: float = option("Weight of (stars - 3) / 2.", 1.0)
    correction: float = option("Added when the user corrected the output.", -0.5)
    click: float = option("Added on a click-through.", 0.3)
    dwell: float = option("Weight of min(dwell / dwell_target_s, 1).", 0.2)
    dwell_target_s: float = option("Dwell that counts fully, in seconds.", 30.0)
    bounce: float = option("Added on a bounce.", -0.3)
    bounce_s: float = option("Leaving within this many seconds is a bounce.", 10.0)
    conversion: float = option("Added on a purchase or form submission.", 1.0)
    session: float = option("Weight of min(session / session_target_s, 1).", 0.1)
    session_target_s: float = option("Session length after exposure that counts fully.", 300.0)

    def reward(self, row: dict[str, Any]) -> tuple[float, bool]:
        """The reward of one `generation_rewards` row, and whether it is negative."""
        total = 0.0
        if row.get("thumbs"):
            total += self.thumbs * row["thumbs"]
        if row.get("rating"):
            total += self.rating * (row["rating"] - 3) / 2
        if row.get("corrected"):
            total += self.correction
        if row.get("clicked"):
            total += self.click
        dwell = row.get("dwell_s")
        if dwell is not None:
            total += self.dwell * min(dwell / self.dwell_target_s, 1.0)
            if dwell < self.bounce_s:
                total += self.bounce
        if row.get("converted"):
            total += self.conversion
        if row.get("session_s"):
            total += self.session * min(row["session_s"] / self.session_target_s, 1.0)
        negative = bool(
            (row.get("thumbs") or 0) < 0
            or (row.get("rating") is not None and row["rating"] <= 2)
            or row.get("corrected")
        )
        return total, negative


def _utc(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


_COLUMNS = [c.name for c in GenerationRewardRow.__table__.columns]


class Rewards:
    def __init__(self, store: Any, config: RewardConfig | None = None) -> None:
        """`config`: the weights; default tailor.yaml's `feedback:` part, else the defaults."""
        from tailorai.settings import get_settings

        self.store = store
        self.config = config or RewardConfig.from_dict(get_settings().feedback)

    # -- explicit ------------------------------------------------------------------------------

    def recompute(self, connection: Any, project_id: str, generation_ids: set[str]) -> None:
        """Fold every feedback row of these generations into their reward rows."""
        if not generation_ids:
            return
        rows = self._rows(connection, project_id, generation_ids)
        found = connection.execute(
            select(
                FeedbackRow.generation_id,
                FeedbackRow.thumbs,
                FeedbackRow.rating,
                FeedbackRow.comment,
                FeedbackRow.correction,
            )
            .where(FeedbackRow.generation_id.in_(generation_ids))
            .order_by(FeedbackRow.id)
        ).all()
        for row in rows.values():
            row.update(thumbs=None, rating=None, corrected=False, comments=0)
        for generation_id, thumbs, rating, comment, correction in found:
            row = rows[generation_id]
            row["thumbs"] = thumbs if thumbs is not None else row["thumbs"]
            row["rating"] = rating if rating is not None else row["rating"]
            row["corrected"] = row["corrected"] or bool(correction)
            row["comments"] += int(bool(comment))
        self._save(connection, rows)

    # -- implicit, from events -----------------------------------------------------------------

    def refresh(self, project_id: str, *, batch: int = 10_000) -> dict[str, int]:
        """Read the events stored since the last refresh: feedback events become feedback
        rows, events on generated content and later activity update the rewards."""
        from tailorai.feedback.log import FeedbackLog

        counts = {"events": 0, "feedback": 0, "rejected_feedback": 0, "updated": 0}
        log = FeedbackLog(self.store, self)
        with self.store.engine.begin() as connection:
            after = connection.execute(
                select(CursorRow.position).where(
                    CursorRow.project_id == project_id, CursorRow.name == _CURSOR
                )
            ).scalar()
            start = after or 0
            after = start
            while True:
                events = connection.execute(
                    select(
                        EventRow.id,
                        EventRow.type,
                        EventRow.event,
                        EventRow.user_key,
                        EventRow.message_id,
                        EventRow.properties,
                        EventRow.timestamp,
                    )
                    .where(EventRow.project_id == project_id, EventRow.id > after)
                    .order_by(EventRow.id)
                    .limit(batch)
                ).all()
                if not events:
                    break
                after = events[-1][0]
                counts["events"] += len(events)
                explicit = [e for e in events if e[1] == FEEDBACK_TYPE]
                added, rejected = log.from_events(connection, project_id, explicit)
                counts["feedback"] += added
                counts["rejected_feedback"] += rejected
                counts["updated"] += self._implicit(connection, project_id, events)
            self._set_cursor(connection, project_id, after, start)
        return counts

    def _implicit(self, connection: Any, project_id: str, events: list[Any]) -> int:
        linked = {}
        for _, kind, _, _, _, props, _ in events:
            gid = props.get("generation_id") if isinstance(props, dict) else None
            if isinstance(gid, str) and kind != FEEDBACK_TYPE:
                linked[gid] = True
        users = {user for _, _, _, user, _, _, _ in events if user}
        earliest = min(_utc(e[6]) for e in events)
        open_rows = connection.execute(
            select(GenerationRewardRow.generation_id).where(
                GenerationRewardRow.project_id == project_id,
                GenerationRewardRow.user_key.in_(users),
                GenerationRewardRow.last_activity >= earliest - timedelta(seconds=SESSION_GAP),
            )
        ).scalars()
        rows = self._rows(connection, project_id, set(linked) | set(open_rows))
        if not rows:
            return 0
        by_user: dict[str, list[dict[str, Any]]] = {}
        for row in rows.values():
            if row["user_key"]:
                by_user.setdefault(row["user_key"], []).append(row)
        for _, kind, name, user, _, props, when in events:
            when = _utc(when)
            gid = props.get("generation_id") if isinstance(props, dict) else None
            row = rows.get(gid) if isinstance(gid, str) and kind != FEEDBACK_TYPE else None
            if row is not None:
                if name == SHOWN:
                    row["exposures"] += 1
                    if row["exposed_at"] is None or when < row["exposed_at"]:
                        row["exposed_at"] = when
                elif name in CLICKS:
                    row["clicked"] = True
                elif name in CONVERSIONS:
                    row["converted"] = True
                if name == LEFT and isinstance(props.get("dwell_ms"), int | float):
                    row["dwell_s"] = (row["dwell_s"] or 0.0) + max(props["dwell_ms"], 0) / 1000
                if row["exposed_at"] is None:  # acting on it shows it was seen
                    row["exposed_at"] = when
            for other in by_user.get(user, []):  # the session after each exposure goes on
                start, last = other["exposed_at"], other["last_activity"] or other["exposed_at"]
                if start is None or when < start:
                    continue
                if (when - last).total_seconds() <= SESSION_GAP:
                    other["last_activity"] = max(last, when)
                    other["session_s"] = (other["last_activity"] - start).total_seconds()
        self._save(connection, rows)
        return len(rows)

    # -- rows ----------------------------------------------------------------------------------

    def _rows(
        self, connection: Any, project_id: str, generation_ids: set[str]
    ) -> dict[str, dict[str, Any]]:
        """The reward rows of these generations of the project (new ones made empty)."""
        rows: dict[str, dict[str, Any]] = {}
        ids = list(generation_ids)
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            existing = connection.execute(
                select(*GenerationRewardRow.__table__.columns).where(
                    GenerationRewardRow.__table__.c.generation_id.in_(chunk)
                )
            ).mappings()
            for found in existing:
                rows[found["generation_id"]] = {
                    k: _utc(v) if isinstance(v, datetime) else v for k, v in found.items()
                }
            missing = [g for g in chunk if g not in rows]
            if missing:
                # By primary key alone: with the project in the filter too, SQLite may pick
                # the (project, ...) indexes and scan every generation of the project.
                known = connection.execute(
                    select(
                        GenerationRow.id, GenerationRow.user_key, GenerationRow.project_id
                    ).where(GenerationRow.id.in_(missing))
                ).all()
                for generation_id, user, project in known:
                    if project == project_id:
                        rows[generation_id] = _empty(generation_id, project_id, user)
        return {k: v for k, v in rows.items() if v["project_id"] == project_id}

    def _save(self, connection: Any, rows: dict[str, dict[str, Any]]) -> None:
        now = datetime.now(UTC)
        values = []
        for row in rows.values():
            row["reward"], row["negative"] = self.config.reward(row)
            row["updated_at"] = now
            values.append({k: row[k] for k in _COLUMNS})
        if not values:
            return
        insert = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}[
            connection.dialect.name
        ](GenerationRewardRow)
        connection.execute(
            insert.on_conflict_do_update(
                index_elements=["generation_id"],
                set_={k: insert.excluded[k] for k in _COLUMNS if k != "generation_id"},
            ),
            values,
        )

    def _set_cursor(self, connection: Any, project_id: str, position: int, old: int) -> None:
        insert = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}[
            connection.dialect.name
        ](CursorRow)
        connection.execute(
            insert.on_conflict_do_update(
                index_elements=["project_id", "name"],
                set_={"position": position, "updated_at": datetime.now(UTC)},
            ),
            [
                {
                    "project_id": project_id,
                    "name": _CURSOR,
                    "position": max(position, old),
                    "updated_at": datetime.now(UTC),
                }
            ],
        )

    def summary(self, project_id: str) -> dict[str, Any]:
        """Counts and the mean reward over the project's rewarded generations."""
        query = select(
            func.count(),
            func.avg(GenerationRewardRow.reward),
            func.count().filter(GenerationRewardRow.negative.is_(True)),
        ).where(GenerationRewardRow.project_id == project_id)
        with self.store.session() as s:
            n, mean, negative = s.execute(query).one()
        return {
            "generations": int(n),
            "mean_reward": float(mean or 0.0),
            "negative": int(negative or 0),
        }


def over_time(store: Any, project_id: str, days: int = 14) -> list[dict[str, Any]]:
    """Per day, model version and segment: generations rewarded, mean reward, negative share,
    newest day first (what the dashboard's Feedback page shows)."""
    since = datetime.now(UTC) - timedelta(days=days)
    day = func.date(GenerationRow.created_at)
    query = (
        select(
            day,
            GenerationRow.model_version,
            GenerationRow.segment,
            func.count(),
            func.avg(GenerationRewardRow.reward),
            func.avg(GenerationRewardRow.negative.cast(Integer)),
            func.count(GenerationRewardRow.thumbs) + func.count(GenerationRewardRow.rating),
        )
        .join(GenerationRow, GenerationRow.id == GenerationRewardRow.generation_id)
        .where(GenerationRewardRow.project_id == project_id, GenerationRow.created_at >= since)
        .group_by(day, GenerationRow.model_version, GenerationRow.segment)
        .order_by(day.desc(), GenerationRow.model_version, GenerationRow.segment)
    )
    with store.session() as s:
        return [
            {
                "day": str(d),
                "model_version": version or "base",
                "segment": segment or "none",
                "generations": int(n),
                "mean_reward": float(mean or 0.0),
                "negative_rate": float(negative or 0.0),
                "explicit": int(explicit or 0),
            }
            for d, version, segment, n, mean, negative, explicit in s.execute(query)
        ]


def _empty(generation_id: str, project_id: str, user: str | None) -> dict[str, Any]:
    return {
        "generation_id": generation_id,
        "project_id": project_id,
        "user_key": user,
        "thumbs": None,
        "rating": None,
        "corrected": False,
        "comments": 0,
        "exposures": 0,
        "exposed_at": None,
        "last_activity": None,
        "clicked": False,
        "dwell_s": None,
        "converted": False,
        "session_s": 0.0,
        "reward": 0.0,
        "negative": False,
        "updated_at": None,
    }
