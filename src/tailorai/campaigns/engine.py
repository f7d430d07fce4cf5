"""`CampaignEngine`: which blocks each user's email holds, in which order, learned from clicks.

    engine = CampaignEngine(store, load_campaign("movie_night.yaml"), project="shop")
    engine.learn()                         # fold in the clicks recorded since last time
    sends = engine.decide(["u1", "u2"])    # eligible blocks ranked per user, propensities too
    engine.record(sends)                   # what was sent: the log clicks are matched against

The context of a (user, block) pair, what the bandit's linear models read:

    [1, affinity, own click rate, times shown, engagement / 100, has bought]

- affinity: the share of the user's (decayed) category interest in the block's `categories`;
- own click rate: the user's clicks on this block over its showings to them, `c / (n + 1)`,
  so a user who keeps clicking recommendations gets them first;
- times shown: `min(n, 10) / 10`, so the bandit can learn that a block wears out.

Clicks are events: `"Email Clicked"` with `properties.campaign`, `send_id` and `block`, as the
click redirect (`GET /v1/c/{send_id}/{block}`), `tracker.js` or any SDK sends them. `learn`
reads the ones stored since its last run, marks those sends clicked, and updates the bandit
with every send older than `window` (the time a click may take to arrive); a send's first click
counts once.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import func, select, update

from tailorai.campaigns.bandit import Bandit
from tailorai.campaigns.spec import Block, Campaign
from tailorai.segments import FeatureStore
from tailorai.segments.features import UserFeatures
from tailorai.store.tables import CampaignSendRow, CampaignStateRow, EventRow

__all__ = ["CLICK_EVENT", "CampaignEngine", "Placement", "Send"]

CLICK_EVENT = "Email Clicked"
DIM = 6
_LOCK = threading.Lock()  # one learner at a time in a process (the state is read, then written)


@dataclass(slots=True)
class Placement:
    block: Block
    position: int
    propensity: float
    context: list[float]
    generation_id: str | None = None
    copy: str = ""


@dataclass(slots=True)
class Send:
    """One user's email, decided: its blocks in order."""

    send_id: str
    user_id: str
    segment: str | None
    placements: list[Placement]
    values: dict[str, Any] = field(default_factory=dict)  # what prompts may say about the user


def _affinity(state: UserFeatures | None, block: Block) -> float:
    if state is None or not block.categories or not state.categories:
        return 0.0
    total = sum(state.categories.values())
    wanted = sum(state.categories.get(c, 0.0) for c in block.categories)
    return wanted / total if total > 0 else 0.0


def _declared_order_prior(k: int, spread: float = 0.1) -> list[float]:
    """Before any click, the campaign's own order is the best guess: the first block is
    expected to do `spread` better than the last, in steps between."""
    return [spread * (k - 1 - i) / max(k - 1, 1) for i in range(k)]


class CampaignEngine:
    def __init__(
        self,
        store: Any,
        campaign: Campaign,
        *,
        project: str = "default",
        window: timedelta = timedelta(days=3),
        seed: int | None = None,
        policy: str | None = None,
        name: str | None = None,
    ) -> None:
        """`policy` and `name` override the campaign's (to run policies side by side)."""
        self.store = store
        self.campaign = campaign
        self.project = project
        self.name = name or campaign.name
        self.window = window
        self.features = FeatureStore(store)
        self.rng = np.random.default_rng(seed)
        self.bandit = Bandit(
            [b.name for b in campaign.blocks],
            DIM,
            policy=policy or campaign.policy,
            epsilon=campaign.epsilon,
            prior=_declared_order_prior(len(campaign.blocks)),
        )
        with store.session() as s:
            row = s.get(CampaignStateRow, (project, self.name))
            if row is not None:
                self.bandit.load(row.state)

    # -- deciding ------------------------------------------------------------------------------

    def decide(self, users: Sequence[str], *, now: datetime | None = None) -> list[Send]:
        """Each user's blocks, ranked; users no block is eligible for get no email (left out).
        Nothing is stored until `record`."""
        now = now or datetime.now(UTC)
        users = list(dict.fromkeys(users))
        records = self.features.get_many(self.project, users)
        history = self._history(users)
        order = [b.name for b in self.campaign.blocks]
        sends = []
        for user in users:
            record = records.get(user)
            state = record.features if record is not None else None
            segment = record.segment if record is not None else None
            values = state.values(now) if state is not None else UserFeatures().values(now)
            contexts = {}
            for block in self.campaign.blocks:
                if not block.eligible.allows(segment, values):
                    continue
                shown, clicked = history.get((user, block.name), (0, 0))
                contexts[block.name] = [
                    1.0,
                    _affinity(state, block),
                    clicked / (shown + 1),
                    min(shown, 10) / 10,
                    values["engagement"] / 100.0,
                    float(values["purchases"] > 0),
                ]
            ranking = self.bandit.rank(contexts, self.campaign.slots, self.rng, order)
            if not ranking.arms:
                continue
            sends.append(
                Send(
                    send_id=secrets.token_hex(16),
                    user_id=user,
                    segment=segment,
                    placements=[
                        Placement(self.campaign.block(arm), i, p, contexts[arm])
                        for i, (arm, p) in enumerate(
                            zip(ranking.arms, ranking.propensities, strict=True)
                        )
                    ],
                    values={
                        "user_id": user,
                        "segment": segment or "everyone",
                        "top_category": (values["top_categories"] or ["films"])[0],
                        "top_categories": values["top_categories"] or ["films"],
                        "engagement": round(values["engagement"]),
                    },
                )
            )
        return sends

    def _history(self, users: Sequence[str]) -> dict[tuple[str, str], tuple[int, int]]:
        """(user, block): (times shown, times clicked) in this campaign."""
        table = CampaignSendRow
        found = {}
        with self.store.session() as s:
            for start in range(0, len(users), 500):
                query = (
                    select(
                        table.user_key,
                        table.block,
                        func.count(),
                        func.count(table.clicked_at),
                    )
                    .where(
                        table.project_id == self.project,
                        table.campaign == self.name,
                        table.user_key.in_(users[start : start + 500]),
                    )
                    .group_by(table.user_key, table.block)
                )
                for user, block, shown, clicked in s.execute(query):
                    found[(user, block)] = (int(shown), int(clicked))
        return found

    def record(self, sends: Sequence[Send], *, now: datetime | None = None) -> int:
        """Store what was sent (one row per block), in one transaction; returns the rows."""
        now = now or datetime.now(UTC)
        rows = [
            {
                "project_id": self.project,
                "campaign": self.name,
                "send_id": send.send_id,
                "user_key": send.user_id,
                "block": p.block.name,
                "position": p.position,
                "propensity": p.propensity,
                "policy": self.bandit.policy,
                "context": p.context,
                "link": p.block.link,
                "generation_id": p.generation_id,
                "created_at": now,
            }
            for send in sends
            for p in send.placements
        ]
        if rows:
            with self.store.engine.begin() as connection:
                connection.execute(CampaignSendRow.__table__.insert(), rows)
        return len(rows)

    # -- learning ------------------------------------------------------------------------------

    def learn(self, *, now: datetime | None = None) -> dict[str, int]:
        """Fold in the click events stored since the last run and the sends now settled."""
        now = now or datetime.now(UTC)
        with _LOCK, self.store.engine.begin() as connection:
            state = connection.execute(
                select(CampaignStateRow.send_cursor, CampaignStateRow.event_cursor).where(
                    CampaignStateRow.project_id == self.project,
                    CampaignStateRow.campaign == self.name,
                )
            ).first()
            send_cursor, event_cursor = state if state is not None else (0, 0)
            clicks, event_cursor = self._match_clicks(connection, event_cursor)
            learned, send_cursor = self._fold_sends(connection, send_cursor, now - self.window)
            row = {
                "state": self.bandit.state(),
                "send_cursor": send_cursor,
                "event_cursor": event_cursor,
                "updated_at": now,
            }
            if state is None:
                connection.execute(
                    CampaignStateRow.__table__.insert(),
                    {"project_id": self.project, "campaign": self.name, **row},
                )
            else:
                connection.execute(
                    update(CampaignStateRow)
                    .where(
                        CampaignStateRow.project_id == self.project,
                        CampaignStateRow.campaign == self.name,
                    )
                    .values(**row)
                )
        return {"clicks": clicks, "learned": learned}

    def _match_clicks(self, connection: Any, after: int) -> tuple[int, int]:
        matched = 0
        while True:
            rows = connection.execute(
                select(EventRow.id, EventRow.properties, EventRow.timestamp)
                .where(
                    EventRow.project_id == self.project,
                    EventRow.event == CLICK_EVENT,
                    EventRow.id > after,
                )
                .order_by(EventRow.id)
                .limit(5000)
            ).all()
            if not rows:
                return matched, after
            for event_id, props, when in rows:
                after = event_id
                if not isinstance(props, dict) or props.get("campaign") != self.name:
                    continue
                result = connection.execute(
                    update(CampaignSendRow)
                    .where(
                        CampaignSendRow.project_id == self.project,
                        CampaignSendRow.send_id == str(props.get("send_id")),
                        CampaignSendRow.block == str(props.get("block")),
                        CampaignSendRow.clicked_at.is_(None),
                    )
                    .values(clicked_at=when)
                )
                matched += result.rowcount

    def _fold_sends(self, connection: Any, after: int, settled: datetime) -> tuple[int, int]:
        learned = 0
        while True:
            rows = connection.execute(
                select(
                    CampaignSendRow.id,
                    CampaignSendRow.block,
                    CampaignSendRow.context,
                    CampaignSendRow.clicked_at,
                )
                .where(
                    CampaignSendRow.project_id == self.project,
                    CampaignSendRow.campaign == self.name,
                    CampaignSendRow.id > after,
                    CampaignSendRow.created_at <= settled,
                )
                .order_by(CampaignSendRow.id)
                .limit(5000)
            ).all()
            if not rows:
                return learned, after
            for send_row_id, block, context, clicked_at in rows:
                after = send_row_id
                if block in self.bandit.arms and len(context) == DIM:
                    self.bandit.update(block, context, 1.0 if clicked_at is not None else 0.0)
                    learned += 1

    # -- reporting -----------------------------------------------------------------------------

    def summary(self) -> list[dict[str, Any]]:
        """Per block: sends, clicks and click-through so far (all sends, learned or not)."""
        table = CampaignSendRow
        query = (
            select(table.block, func.count(), func.count(table.clicked_at))
            .where(table.project_id == self.project, table.campaign == self.name)
            .group_by(table.block)
        )
        with self.store.session() as s:
            counts = {block: (int(n), int(c)) for block, n, c in s.execute(query)}
        return [
            {
                "block": b.name,
                "shown": counts.get(b.name, (0, 0))[0],
                "clicks": counts.get(b.name, (0, 0))[1],
                "click_through": (
                    counts[b.name][1] / counts[b.name][0] if counts.get(b.name, (0, 0))[0] else 0.0
                ),
            }
            for b in self.campaign.blocks
        ]
