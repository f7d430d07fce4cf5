"""A simulated campaign on the real system and real behaviour: does the bandit beat a fixed order?

The MovieLens members (their ratings and tags replayed as events, so the feature store knows
their genres the usual way) get the `movie_night` email every week. Each member's true chance
of clicking a block comes from their real taste, which the system never sees directly: the
share of the films they rated 4 stars or more that are in the block's genres,

    P(click block at position i) = position_weight[i] · (base + gain · liked share)

(blocks without genres: `flat`). Every policy runs through the real `CampaignEngine`: it decides,
the sends are recorded, the simulated clicks are stored as "Email Clicked" events, and the
engine learns from those events before the next week. All policies face the same random
numbers (a click happens when the week's uniform draw for that member and position is below
its probability), so their differences come from the decisions alone. The oracle row is the
expected click-through of an engine that knew every member's true taste: the ceiling.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from tailorai.campaigns.engine import CLICK_EVENT, CampaignEngine
from tailorai.campaigns.spec import EXAMPLES, Campaign, load_campaign

__all__ = ["EXAMPLE", "SimulationResult", "simulate_campaign"]

EXAMPLE = EXAMPLES / "movie_night.yaml"
POSITION_WEIGHT = (1.0, 0.7, 0.5, 0.4, 0.3)
BASE, GAIN, FLAT = 0.01, 0.30, 0.05


@dataclass(frozen=True, slots=True)
class SimulationResult:
    rounds: int
    users: int
    rows: list[dict[str, Any]]  # per policy: emails, clicks, email_ctr, clicks_per_email, ...

    def row(self, policy: str) -> dict[str, Any]:
        return next(r for r in self.rows if r["policy"] == policy)

    def table(self) -> str:
        """The result as a Markdown table, as the README shows it: what happened (clicks drawn
        at random) and what each policy's choices were worth (expected from the true tastes)."""
        weeks = f"weeks {self.rounds // 2 + 1}-{self.rounds}"
        fixed = self.row("fixed")["later_expected_ctr"]
        lines = [
            f"| policy | emails | clicks | click-through, weeks 1-{self.rounds} | {weeks} "
            f"| expected, {weeks} | vs fixed order (expected, {weeks}) |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for r in self.rows:
            lift = (r["later_expected_ctr"] / fixed - 1) * 100 if fixed else 0.0
            seen = ["", "", "", ""]
            if r["emails"]:
                seen = [f"{r['emails']:,}", f"{r['clicks']:,}", f"{r['email_ctr']:.1%}"]
                seen.append(f"{r['later_ctr']:.1%}")
            cells = [r["policy"], *seen, f"{r['later_expected_ctr']:.1%}", f"{lift:+.1f}%"]
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines)


def _liked_genres(folder: Path) -> dict[str, list[set[str]]]:
    """Per member ("ml-<id>"), the genres of each film they rated 4 or more."""
    with (folder / "movies.csv").open(encoding="utf-8", newline="") as f:
        genres = {row["movieId"]: set(row["genres"].split("|")) for row in csv.DictReader(f)}
    liked: dict[str, list[set[str]]] = defaultdict(list)
    with (folder / "ratings.csv").open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            if float(row["rating"]) >= 4.0:
                liked[f"ml-{row['userId']}"].append(genres.get(row["movieId"], set()))
    return liked


def _truth(campaign: Campaign, liked: dict[str, list[set[str]]], users: list[str]) -> np.ndarray:
    """(users, blocks): each member's true click probability for each block at the top."""
    p = np.full((len(users), len(campaign.blocks)), FLAT)
    for j, block in enumerate(campaign.blocks):
        if not block.categories:
            continue
        wanted = set(block.categories)
        for i, user in enumerate(users):
            films = liked.get(user, [])
            share = sum(bool(g & wanted) for g in films) / len(films) if films else 0.0
            p[i, j] = BASE + GAIN * share
    return p


def simulate_campaign(
    store: Any,
    *,
    campaign: Campaign | None = None,
    rounds: int = 12,
    seed: int = 0,
    policies: tuple[str, ...] = ("fixed", "epsilon_greedy", "thompson"),
    project: str = "movielens",
    max_users: int | None = None,
) -> SimulationResult:
    """Run `policies` side by side for `rounds` weekly sends to the MovieLens members."""
    from tailorai.events.samples import MOVIELENS, replay_movielens
    from tailorai.events.schema import parse_event
    from tailorai.events.sql_stream import SqlEventStream
    from tailorai.segments import FeatureStore

    campaign = campaign or load_campaign(EXAMPLE)
    replay_movielens(store, project)
    liked = _liked_genres(MOVIELENS)
    users = sorted(liked, key=lambda u: int(u.split("-")[1]))[:max_users]
    truth = _truth(campaign, liked, users)
    row_of = {u: i for i, u in enumerate(users)}
    column = {b.name: j for j, b in enumerate(campaign.blocks)}
    weights = np.asarray(POSITION_WEIGHT[: campaign.slots])
    # The same uniform draw per (week, member, position) for every policy.
    draws = np.random.default_rng(seed).random((rounds, len(users), campaign.slots))
    stream, features = SqlEventStream(store), FeatureStore(store)
    run = datetime.now(UTC).strftime("%Y%m%d%H%M%S%f")
    rows = []
    for policy in policies:
        engine = CampaignEngine(
            store,
            campaign,
            project=project,
            policy=policy,
            name=f"{campaign.name}-{policy}-{run}",
            window=timedelta(0),
            seed=seed,
        )
        emails = clicks = clicked_emails = 0
        weekly, expected = [], []
        for week in range(rounds):
            sends = engine.decide(users)
            engine.record(sends)
            received = datetime.now(UTC)
            events, week_clicked, week_expected = [], 0, 0.0
            for send in sends:
                i = row_of[send.user_id]
                any_click = False
                chances = [
                    weights[p.position] * truth[i, column[p.block.name]] for p in send.placements
                ]
                week_expected += 1 - float(np.prod(1 - np.asarray(chances)))
                for place in send.placements:
                    chance = weights[place.position] * truth[i, column[place.block.name]]
                    if draws[week, i, place.position] < chance:
                        any_click = True
                        clicks += 1
                        events.append(
                            parse_event(
                                {
                                    "type": "track",
                                    "event": CLICK_EVENT,
                                    "userId": send.user_id,
                                    "messageId": f"click-{send.send_id}-{place.block.name}",
                                    "properties": {
                                        "campaign": engine.name,
                                        "send_id": send.send_id,
                                        "block": place.block.name,
                                        "position": place.position,
                                    },
                                },
                                received,
                            )
                        )
                week_clicked += any_click
            stream.append(
                project,
                events,
                then=lambda connection, new: features.update(project, new, connection=connection),
            )
            engine.learn()
            emails += len(sends)
            clicked_emails += week_clicked
            weekly.append(week_clicked / len(sends) if sends else 0.0)
            expected.append(week_expected / len(sends) if sends else 0.0)
        rows.append(
            {
                "policy": policy,
                "emails": emails,
                "clicks": clicks,
                "email_ctr": clicked_emails / emails if emails else 0.0,
                "clicks_per_email": clicks / emails if emails else 0.0,
                "later_ctr": float(np.mean(weekly[rounds // 2 :])) if weekly else 0.0,
                "weekly_ctr": weekly,
                "weekly_expected_ctr": expected,
                "later_expected_ctr": float(np.mean(expected[rounds // 2 :])) if expected else 0.0,
            }
        )
    rows.append(_oracle(campaign, truth, users, weights, features, project))
    return SimulationResult(rounds, len(users), rows)


def _oracle(
    campaign: Campaign,
    truth: np.ndarray,
    users: list[str],
    weights: np.ndarray,
    features: Any,
    project: str,
) -> dict[str, Any]:
    """Expected figures of the best eligible blocks per member, best first."""
    now = datetime.now(UTC)
    records = features.get_many(project, users)
    p_any, expected = [], []
    for i, user in enumerate(users):
        record = records.get(user)
        values = record.features.values(now) if record is not None else {}
        segment = record.segment if record is not None else None
        eligible = [j for j, b in enumerate(campaign.blocks) if b.eligible.allows(segment, values)]
        best = sorted(eligible, key=lambda j: -truth[i, j])[: campaign.slots]
        chances = weights[: len(best)] * truth[i, best]
        p_any.append(1 - np.prod(1 - chances))
        expected.append(chances.sum())
    ctr = float(np.mean(p_any))
    return {
        "policy": "oracle (knows true taste)",
        "emails": 0,
        "clicks": 0,
        "email_ctr": ctr,
        "clicks_per_email": float(np.mean(expected)),
        "later_ctr": ctr,
        "weekly_ctr": [],
        "weekly_expected_ctr": [],
        "later_expected_ctr": ctr,
    }
