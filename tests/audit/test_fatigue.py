"""Fatigue control on a real store and a real (tiny) model: caps in the user's own days,
repeats regenerated and counted, declining engagement backed off, and the report."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tailorai.audit.fatigue import FatigueConfig, FatigueGuard, fatigue_report, similarity
from tailorai.errors import FrequencyCapped
from tailorai.events import SqlEventStream, parse_event
from tailorai.generation import LocalBackend, Personalizer
from tailorai.projects import ensure_project
from tailorai.segments import FeatureStore
from tailorai.store import Store
from tests.training.test_registry import build_artifacts


@pytest.fixture
def store(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'fatigue.db'}")
    ensure_project(store, "shop")
    yield store
    store.close()


def _events(store, raws, when=None):
    when = when or datetime.now(UTC)
    features = FeatureStore(store)
    SqlEventStream(store).append(
        "shop",
        [parse_event(raw, when, max_age=None) for raw in raws],
        then=lambda c, new: features.update("shop", new, connection=c),
    )


def test_caps_count_days_and_weeks_in_the_users_time_zone(store):
    _events(
        store,
        [
            {
                "type": "track",
                "event": "Viewed",
                "userId": "tokyo",
                "context": {"timezone": "Asia/Tokyo"},
            }
        ],
    )
    guard = FatigueGuard(store, project="shop", config=FatigueConfig())  # email 1/day, 3/week
    # Monday 2026-11-30, 14:30 UTC is 23:30 in Tokyo: one email sent then.
    sent = datetime(2026, 11, 30, 14, 30, tzinfo=UTC)
    guard.sent("tokyo", "email", now=sent)
    guard.sent("london", "email", now=sent)
    later = sent + timedelta(minutes=40)  # 00:10 Tuesday in Tokyo, still Monday in UTC
    assert guard.allow("tokyo", "email", later) == (True, "within caps")
    allowed, why = guard.allow("london", "email", later)
    assert not allowed and "1 email sends this day (UTC), cap 1" in why
    for day in (1, 2):  # Tuesday and Wednesday in Tokyo: the week's cap of 3 is reached
        guard.sent("tokyo", "email", now=later + timedelta(days=day - 1))
    allowed, why = guard.allow("tokyo", "email", later + timedelta(days=2))
    assert not allowed and "this week (Asia/Tokyo), cap 3" in why
    assert guard.allow("tokyo", "web", later)[0]  # another channel, other caps
    assert guard.allow(None, "email")[0]  # anonymous visitors are not capped


def test_declining_engagement_backs_a_user_off(store):
    raws = []
    for i in range(20):  # clicked 4 of the first 10 exposures, none of the last 10
        props = {"generation_id": f"g{i}"}
        raws.append(
            {"type": "track", "event": "Content Shown", "userId": "tired", "properties": props}
        )
        if i < 10 and i % 2 == 0:
            raws.append(
                {
                    "type": "track",
                    "event": "Content Clicked",
                    "userId": "tired",
                    "properties": props,
                }
            )
    _events(store, raws)
    guard = FatigueGuard(store, project="shop", config=FatigueConfig())
    allowed, why = guard.allow("tired", "web")
    assert not allowed and "declining engagement: click-through 0%" in why
    assert "50% before" in why


def test_similarity_is_shingle_jaccard():
    assert similarity("a b c d e", "a b c d e") == 1.0
    assert similarity("the cat sat on the mat", "a dog ran in the park") == 0.0
    assert 0 < similarity("new boots for winter hikes", "new boots for summer hikes") < 1


@pytest.fixture(scope="module")
def base(tmp_path_factory, tokenizer):
    return build_artifacts(tmp_path_factory.mktemp("fatigue-artifacts"), tokenizer)["base"]


def test_a_user_shown_the_same_content_daily_is_capped_and_counted(store, base):
    _events(store, [{"type": "track", "event": "Viewed", "userId": "u1"}])
    config = FatigueConfig(caps={"web": {"day": 3}}, repeat_threshold=0.8)
    backend = LocalBackend(str(base))
    personalizer = Personalizer(
        store=store,
        backend=backend,
        project="shop",
        max_new_tokens=12,
        fatigue=FatigueGuard(store, project="shop", config=config),
    )
    request = ("u1", "product_description", {"product": "boots"})
    try:
        first = personalizer.generate(*request)
        second = personalizer.generate(*request)  # greedy: the same text, so regenerated
        third = personalizer.generate(*request)
        with pytest.raises(FrequencyCapped, match="3 web sends this day"):
            personalizer.generate(*request)
    finally:
        backend.close()
    assert second.output != first.output or third.output != first.output
    [row] = fatigue_report(store, "shop")
    assert row["sends"] == 3 and row["capped"] == 1
    assert row["repeated"] + row["regenerated"] >= 1 and row["repeat_rate"] > 0


def test_caps_hold_at_campaign_time_and_over_http(store, base, tmp_path):
    from tailorai.campaigns import Campaign, CampaignEngine
    from tailorai.campaigns.render import render_campaign
    from tailorai.projects import create_key
    from tailorai.server import create_app
    from tests.campaigns.test_spec import GOOD
    from tests.server.conftest import serve

    _events(store, [{"type": "track", "event": "Viewed", "userId": u} for u in ("u1", "u2")])
    backend = LocalBackend(str(base))
    guard = FatigueGuard(
        store, project="shop", config=FatigueConfig(caps={"email": {"day": 1}, "web": {"day": 1}})
    )
    personalizer = Personalizer(
        store=store, backend=backend, project="shop", max_new_tokens=4, fatigue=guard
    )
    engine = CampaignEngine(store, Campaign.from_yaml(GOOD), project="shop")
    try:
        first = render_campaign(engine, personalizer, ["u1", "u2"])
        again = render_campaign(engine, personalizer, ["u1", "u2"])  # the same day
        secret = create_key(store, "shop", "secret")
        app = create_app(store, rate_limit=0, home=tmp_path, backend=backend)
        app.state.services._personalizers["shop"] = personalizer  # these caps, this model
        body = {"user_id": "u3", "task": "email", "inputs": {"goal": "hi"}, "max_tokens": 3}
        for url in serve(app):
            import httpx

            with httpx.Client(base_url=url, timeout=30) as http:
                auth = {"Authorization": f"Bearer {secret}"}
                ok = http.post("/v1/generate", json=body, headers=auth)
                capped = http.post("/v1/generate", json=body, headers=auth)
    finally:
        backend.close()
    assert len(first) == 2 and again == []  # each email counted once, not once per block
    assert ok.status_code == 200
    assert capped.status_code == 429 and "frequency cap" in capped.json()["detail"]
    report = {r["segment"]: r for r in fatigue_report(store, "shop")}
    assert report["none"]["capped"] == 3 and report["none"]["sends"] == 3
