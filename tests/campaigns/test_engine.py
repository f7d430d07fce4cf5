"""The decision engine on a real store: eligibility, learning from click events, cursors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from tailorai.campaigns import CLICK_EVENT, Campaign, CampaignEngine
from tailorai.events import SqlEventStream, parse_event
from tailorai.projects import ensure_project
from tailorai.segments import FeatureStore
from tailorai.store import Store
from tailorai.store.tables import UserFeatureRow

CAMPAIGN = """\
name: weekly
subject: News
slots: 2
blocks:
  recommendations: {title: Picks, prompt: Picks., link: "https://shop.example/recs"}
  new_arrivals: {title: New, prompt: New., link: "https://shop.example/new"}
  discount:
    title: Discount
    prompt: Ten percent off.
    link: https://shop.example/offer
    eligible:
      segments: [browsers]
      features: {purchases: {max: 0}}
"""


def _store(store_url: str, users: dict[str, str | None]) -> Store:
    """A store where each user has a few events and the given segment."""
    store = Store(store_url)
    ensure_project(store, "shop")
    now = datetime.now(UTC)
    events = [
        parse_event({"type": "track", "event": "Viewed", "userId": user}, now)
        for user in users
        for _ in range(3)
    ]
    stream, features = SqlEventStream(store), FeatureStore(store)
    stream.append("shop", events, then=lambda c, new: features.update("shop", new, connection=c))
    with store.engine.begin() as connection:
        for user, segment in users.items():
            connection.execute(
                update(UserFeatureRow)
                .where(UserFeatureRow.project_id == "shop", UserFeatureRow.user_key == user)
                .values(segment=segment)
            )
    return store


def _click(store: Store, campaign: str, user: str, send_id: str, block: str) -> None:
    raw = {
        "type": "track",
        "event": CLICK_EVENT,
        "userId": user,
        "messageId": f"click-{send_id}-{block}",
        "properties": {"campaign": campaign, "send_id": send_id, "block": block},
    }
    SqlEventStream(store).append("shop", [parse_event(raw, datetime.now(UTC))])


def test_only_eligible_blocks_are_sent(store_url):
    store = _store(store_url, {"u1": "browsers", "u2": "buyers", "u3": None})
    engine = CampaignEngine(store, Campaign.from_yaml(CAMPAIGN), project="shop", seed=0)
    for _ in range(20):
        sends = {s.user_id: s for s in engine.decide(["u1", "u2", "u3", "stranger"])}
        assert set(sends) == {"u1", "u2", "u3", "stranger"}  # an unknown user is a cold start
        for user in ("u2", "u3", "stranger"):
            assert "discount" not in [p.block.name for p in sends[user].placements]
        assert len(sends["u1"].placements) == 2
    seen = {p.block.name for _ in range(30) for p in engine.decide(["u1"])[0].placements}
    assert "discount" in seen
    store.close()


def test_a_user_who_keeps_clicking_a_block_gets_it_first(store_url):
    keen = [f"keen{i}" for i in range(10)]  # click recommendations whenever they see them
    thrifty = [f"thrifty{i}" for i in range(10)]  # click the discount
    store = _store(store_url, {u: "browsers" for u in keen + thrifty})
    engine = CampaignEngine(
        store, Campaign.from_yaml(CAMPAIGN), project="shop", window=timedelta(0), seed=1
    )
    for _ in range(12):
        sends = engine.decide(keen + thrifty)
        engine.record(sends)
        for send in sends:
            wanted = "recommendations" if send.user_id in keen else "discount"
            for place in send.placements:
                if place.block.name == wanted:
                    _click(store, "weekly", send.user_id, send.send_id, wanted)
        engine.learn()
    firsts = [s.placements[0].block.name for _ in range(10) for s in engine.decide(keen)]
    assert firsts.count("recommendations") >= 0.8 * len(firsts)
    firsts = [s.placements[0].block.name for _ in range(10) for s in engine.decide(thrifty)]
    assert firsts.count("discount") >= 0.8 * len(firsts)
    store.close()


def test_learning_reads_each_click_once_and_waits_for_the_window(store_url):
    store = _store(store_url, {"u1": "browsers", "u2": "browsers"})
    campaign = Campaign.from_yaml(CAMPAIGN)
    engine = CampaignEngine(store, campaign, project="shop", window=timedelta(days=1), seed=0)
    sends = engine.decide(["u1", "u2"])
    engine.record(sends)
    first = sends[0]
    block = first.placements[0].block.name
    _click(store, "weekly", first.user_id, first.send_id, block)
    _click(store, "weekly", first.user_id, first.send_id, block)  # the same link twice
    _click(store, "other-campaign", first.user_id, first.send_id, block)
    _click(store, "weekly", "u2", "no-such-send", block)

    assert engine.learn() == {"clicks": 1, "learned": 0}  # within the window: not yet settled
    later = datetime.now(UTC) + timedelta(days=2)
    assert engine.learn(now=later) == {"clicks": 0, "learned": 4}
    assert engine.learn(now=later) == {"clicks": 0, "learned": 0}
    assert engine.bandit.shown.sum() == 4 and engine.bandit.clicks.sum() == 1

    again = CampaignEngine(store, campaign, project="shop")  # the state was saved
    assert again.bandit.shown.sum() == 4 and again.bandit.clicks.sum() == 1
    summary = {row["block"]: row for row in again.summary()}
    assert summary[block]["clicks"] == 1 and summary[block]["click_through"] > 0
    store.close()
