"""User fatigue: frequency caps, repeated content, and users who stop engaging.

    guard = FatigueGuard(store, project="shop")
    allowed, why = guard.allow("u42", "email")     # before a send; False: capped, and why
    guard.sent("u42", "email", generation_id)      # what the caps count
    guard.repeats("u42", text)                     # similarity to what they saw lately

- **Caps** per user and channel, per day and per week (Monday to Sunday), counted in the user's
  time zone when it is known (the tracker sends it; identify traits may carry `timezone`), else
  in UTC. Defaults: email 1 a day and 3 a week, web 50 a day; `tailor.yaml`'s `fatigue:` part
  changes them. A capped send is logged with its reason.
- **Repetition**: a new output whose Jaccard similarity of 3-word shingles to one of the
  user's last `recent` outputs of the last `recent_days` days is `repeat_threshold` or more is
  a repeat (exact over these few sets; MinHash estimates the same figure at scale): the
  Personalizer regenerates it once with sampling (`regenerated`) and logs it as `repeated` if
  it still repeats.
- **Declining engagement**: once a user has `min_exposures` exposures to generated content
  ("Content Shown" with a generation id), click-through over the newest half below
  `decline_ratio` times the oldest half's backs the user off (no sends) until they click again.

`fatigue_report` gives, per segment, the exposure distribution, capped sends, repeats and
backed-off users (`tailor audit fatigue`).
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func, select

from tailorai.config_section import ConfigSection, option
from tailorai.store.tables import EventRow, FatigueEventRow, GenerationRow, UserFeatureRow

__all__ = ["FatigueConfig", "FatigueGuard", "fatigue_report", "similarity"]

_WORD = re.compile(r"\w+")


@dataclass
class FatigueConfig(ConfigSection):
    yaml_section: ClassVar[str] = "fatigue"
    caps: dict[str, dict[str, int]] = option(
        "Sends per channel per day and week, e.g. {email: {day: 1, week: 3}}.",
        factory=lambda: {"email": {"day": 1, "week": 3}, "web": {"day": 50}},
    )
    channels: dict[str, str] = option(
        "The channel of each task (others: web).",
        factory=lambda: {"email": "email", "email_block": "email"},
    )
    repeat_threshold: float = option("Similarity to a recent output that makes a repeat.", 0.8)
    recent: int = option("Recent outputs of the user to compare with.", 20)
    recent_days: float = option("How far back recent outputs go, in days.", 14.0)
    min_exposures: int = option("Exposures before engagement can be judged declining.", 10)
    decline_ratio: float = option("Newer-half CTR under this share of the older half's.", 0.5)

    def channel(self, task: str) -> str:
        return self.channels.get(task, "web")


def _shingles(text: str, size: int = 3) -> set[str]:
    words = _WORD.findall(text.lower())
    if len(words) < size:
        return {" ".join(words)} if words else set()
    return {" ".join(words[i : i + size]) for i in range(len(words) - size + 1)}


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


def similarity(a: str, b: str) -> float:
    """Jaccard similarity of two texts' 3-word shingles."""
    return _jaccard(_shingles(a), _shingles(b))


def _zone(name: str | None) -> ZoneInfo | Any:
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return UTC


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


class FatigueGuard:
    def __init__(self, store: Any, *, project: str = "default", config: Any = None) -> None:
        from tailorai.settings import get_settings

        self.store = store
        self.project = project
        self.config = config or FatigueConfig.from_dict(dict(get_settings().fatigue))

    # -- caps ----------------------------------------------------------------------------------

    def timezone(self, user: str) -> str | None:
        with self.store.session() as s:
            state = s.scalar(
                select(UserFeatureRow.state).where(
                    UserFeatureRow.project_id == self.project, UserFeatureRow.user_key == user
                )
            )
        return state.get("timezone") if isinstance(state, dict) else None

    def allow(
        self, user: str | None, channel: str, now: datetime | None = None
    ) -> tuple[bool, str]:
        """Whether `user` may get one more send on `channel` now, and why not."""
        if not user:
            return True, "anonymous: no caps"
        now = _utc(now or datetime.now(UTC))
        zone = _zone(self.timezone(user))
        local = now.astimezone(zone)
        day_start = local.replace(hour=0, minute=0, second=0, microsecond=0)
        windows = {"day": day_start, "week": day_start - timedelta(days=local.weekday())}
        caps = self.config.caps.get(channel, {})
        for window, cap in caps.items():
            if window not in windows:
                continue
            since = windows[window].astimezone(UTC)
            count = self._sends(user, channel, since, now)
            if count >= cap:
                where = getattr(zone, "key", "UTC")
                return False, (
                    f"frequency cap: {count} {channel} sends this {window} ({where}), cap {cap}"
                )
        declining = self.declining(user)
        if declining:
            return False, declining
        return True, "within caps"

    def _sends(self, user: str, channel: str, since: datetime, until: datetime) -> int:
        with self.store.session() as s:
            return int(
                s.scalar(
                    select(func.count()).where(
                        FatigueEventRow.project_id == self.project,
                        FatigueEventRow.user_key == user,
                        FatigueEventRow.channel == channel,
                        FatigueEventRow.action == "sent",
                        FatigueEventRow.created_at >= since,
                        FatigueEventRow.created_at <= until,
                    )
                )
                or 0
            )

    def sent(
        self,
        user: str | None,
        channel: str,
        generation_id: str | None = None,
        now: datetime | None = None,
    ) -> None:
        """Count a send against `user`'s caps."""
        if user:
            self.log(user, channel, "sent", None, generation_id, now)

    def log(
        self,
        user: str,
        channel: str,
        action: str,
        reason: str | None,
        generation_id: str | None = None,
        now: datetime | None = None,
    ) -> None:
        with self.store.session() as s:
            s.add(
                FatigueEventRow(
                    project_id=self.project,
                    user_key=user,
                    channel=channel,
                    action=action,
                    reason=reason,
                    generation_id=generation_id,
                    created_at=_utc(now or datetime.now(UTC)),
                )
            )

    # -- repetition ----------------------------------------------------------------------------

    def repeats(self, user: str | None, text: str, now: datetime | None = None) -> float:
        """The highest similarity of `text` to the user's recent outputs (0 when none)."""
        if not user or not text.strip():
            return 0.0
        since = _utc(now or datetime.now(UTC)) - timedelta(days=self.config.recent_days)
        with self.store.session() as s:
            recent = list(
                s.scalars(
                    select(GenerationRow.output)
                    .where(
                        GenerationRow.project_id == self.project,
                        GenerationRow.user_key == user,
                        GenerationRow.created_at >= since,
                    )
                    .order_by(GenerationRow.created_at.desc())
                    .limit(self.config.recent)
                )
            )
        mine = _shingles(text)
        return max((_jaccard(mine, _shingles(old)) for old in recent), default=0.0)

    # -- engagement ----------------------------------------------------------------------------

    def declining(self, user: str) -> str | None:
        """Why `user` is backed off for declining engagement, or None."""
        query = (
            select(EventRow.event, EventRow.properties)
            .where(
                EventRow.project_id == self.project,
                EventRow.user_key == user,
                EventRow.event.in_(("Content Shown", "Content Clicked", "Email Clicked")),
            )
            .order_by(EventRow.id)
        )
        with self.store.session() as s:
            rows = s.execute(query).all()
        shown: list[str] = []
        clicked: set[str] = set()
        for name, props in rows:
            gid = props.get("generation_id") if isinstance(props, dict) else None
            if not isinstance(gid, str):
                continue
            if name == "Content Shown":
                shown.append(gid)
            else:
                clicked.add(gid)
        if len(shown) < self.config.min_exposures:
            return None
        half = len(shown) // 2
        older, newer = shown[:half], shown[half:]
        before = sum(g in clicked for g in older) / len(older)
        after = sum(g in clicked for g in newer) / len(newer)
        if before > 0 and after < self.config.decline_ratio * before:
            return (
                f"declining engagement: click-through {after:.0%} over the last {len(newer)} "
                f"exposures against {before:.0%} before"
            )
        return None


def fatigue_report(store: Any, project: str, *, days: float = 30.0) -> list[dict[str, Any]]:
    """Per segment: users, sends per user (mean, p50, p90, max), capped sends, repeats and
    regenerations, over the last `days` days."""
    since = datetime.now(UTC) - timedelta(days=days)
    with store.session() as s:
        segments = dict(
            s.execute(
                select(UserFeatureRow.user_key, UserFeatureRow.segment).where(
                    UserFeatureRow.project_id == project
                )
            ).all()
        )
        rows = s.execute(
            select(FatigueEventRow.user_key, FatigueEventRow.action, func.count())
            .where(FatigueEventRow.project_id == project, FatigueEventRow.created_at >= since)
            .group_by(FatigueEventRow.user_key, FatigueEventRow.action)
        ).all()
    per_segment: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"sends": [], "capped": 0, "repeated": 0, "regenerated": 0, "users": set()}
    )
    sends: dict[str, int] = defaultdict(int)
    for user, action, count in rows:
        segment = segments.get(user) or "none"
        entry = per_segment[segment]
        entry["users"].add(user)
        if action == "sent":
            sends[user] += int(count)
        elif action in ("capped", "repeated", "regenerated"):
            entry[action] += int(count)
    for user, count in sends.items():
        per_segment[segments.get(user) or "none"]["sends"].append(count)
    report = []
    for segment, entry in sorted(per_segment.items()):
        counts = sorted(entry["sends"]) or [0]
        total_sends = sum(entry["sends"])
        report.append(
            {
                "segment": segment,
                "users": len(entry["users"]),
                "sends": total_sends,
                "sends_per_user_mean": total_sends / max(len(entry["users"]), 1),
                "sends_per_user_p50": counts[len(counts) // 2],
                "sends_per_user_p90": counts[min(len(counts) - 1, int(0.9 * len(counts)))],
                "sends_per_user_max": counts[-1],
                "capped": entry["capped"],
                "repeated": entry["repeated"],
                "regenerated": entry["regenerated"],
                "repeat_rate": (entry["repeated"] + entry["regenerated"]) / total_sends
                if total_sends
                else 0.0,
            }
        )
    return report
