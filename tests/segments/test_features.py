"""Per-user features: each event folded in, and the same values recomputed from stored events."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

import pytest

from tailorai.events import SqlEventStream, parse_event
from tailorai.projects import create_key
from tailorai.segments import FeatureStore, UserFeatures, compute_features
from tailorai.segments.features import HALF_LIFE_DAYS
from tailorai.store import Store

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def _event(minutes: float, name: str = "Viewed", user: str = "u1", **props):
    when = T0 + timedelta(minutes=minutes)
    raw = {"type": "track", "event": name, "userId": user, "properties": props}
    raw["timestamp"] = when.isoformat()
    raw["context"] = {"user_agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0) Mobile"}
    return parse_event(raw, when, max_age=None)


def test_each_kind_of_event_counts_where_it_should():
    events = [
        _event(0, "Page Left", dwell_ms=30_000, scroll_depth=50, category="shoes"),
        _event(1, "Page Left", dwell_ms=90_000, scroll_depth=100, category="shoes"),
        _event(2, "Content Shown", category="bags"),
        _event(3, "Content Shown"),
        _event(4, "Content Clicked"),
        _event(5, "Form Submitted"),
        _event(90, "Order Completed", revenue=30.0, category="shoes"),  # a new session
        _event(91, "Order Completed", value=12.5),
    ]
    values = compute_features(events).values(T0 + timedelta(minutes=91))
    assert values["events"] == 8 and values["sessions"] == 2
    assert values["mean_dwell_s"] == pytest.approx(60.0)
    assert values["mean_scroll_depth"] == pytest.approx(75.0)
    assert values["click_through"] == pytest.approx(0.5)
    assert values["form_submissions"] == 1
    assert values["purchases"] == 2 and values["revenue"] == pytest.approx(42.5)
    assert values["top_categories"] == ["shoes", "bags"]
    assert values["device_mix"] == {"mobile": 1.0}
    assert values["recency_days"] == pytest.approx(0.0)
    assert 0 < values["engagement"] <= 100


def test_frequency_decays_with_the_half_life():
    state = UserFeatures()
    for day in range(30):  # two events a day for a month
        state.update(_event(day * 1440))
        state.update(_event(day * 1440 + 600))
    last = T0 + timedelta(days=29, minutes=600)
    steady = state.values(last)["frequency_per_day"]
    assert steady == pytest.approx(2.0, rel=0.2)  # events per day, by the decayed count
    later = state.values(last + timedelta(days=HALF_LIFE_DAYS))
    assert later["frequency_per_day"] == pytest.approx(steady / 2, rel=1e-6)
    assert later["engagement"] < state.values(last)["engagement"]


def test_late_events_count_as_old_as_they_are():
    events = [_event(m, category=c) for m, c in ((0, "a"), (3000, "b"), (6000, "a"), (9000, "c"))]
    in_order = compute_features(events)
    shuffled = compute_features([events[2], events[0], events[3], events[1]])
    now = T0 + timedelta(days=10)
    a, b = in_order.values(now), shuffled.values(now)
    assert a["frequency_per_day"] == pytest.approx(b["frequency_per_day"])
    assert a["category_weights"] == pytest.approx(b["category_weights"])
    assert a["events"] == b["events"] == 4


def test_old_tastes_survive_decades_of_silence():
    # MovieLens users rated films in the 1990s; a click today must not erase what they liked
    # (the decayed weights would underflow to zero), only fade it.
    state = compute_features(
        [_event(-30 * 525_600, category=c) for c in ("drama", "drama", "comedy")]
        + [_event(0, "Email Clicked")]
    )
    values = state.values(T0)
    assert values["top_categories"] == ["drama", "comedy"]
    assert state.categories["drama"] == pytest.approx(2 * state.categories["comedy"])
    assert values["category_weights"]["drama"] < 1e-100


def test_the_engagement_formula_is_the_documented_one():
    features = {
        "frequency_per_day": 2.5,
        "mean_dwell_s": 60.0,
        "mean_scroll_depth": 40.0,
        "click_through": 0.1,
        "purchases": 1,
        "recency_days": 3.0,
    }
    from tailorai.segments import engagement

    expected = 100 * (0.3 * 0.5 + 0.2 * 0.5 + 0.15 * 0.4 + 0.15 * 0.5 + 0.2 / 3) * math.exp(-0.1)
    assert engagement(features) == pytest.approx(expected)


def test_incremental_features_equal_a_batch_recomputation(store_url):
    store = Store(store_url)
    create_key(store, "shop", "public")
    stream, features = SqlEventStream(store), FeatureStore(store)
    rng = random.Random(0)
    names = ["Viewed", "Page Left", "Content Shown", "Content Clicked", "Order Completed"]
    minute = 0.0
    for _ in range(40):  # batches arriving one after another, duplicates among them
        batch = []
        for _ in range(rng.randint(1, 8)):
            minute += rng.expovariate(1 / 20)
            batch.append(
                _event(
                    minute,
                    rng.choice(names),
                    user=rng.choice(["u1", "u2", "u3"]),
                    dwell_ms=rng.randint(0, 200_000),
                    category=rng.choice(["shoes", "bags", "hats"]),
                    revenue=rng.choice([5.0, 20.0]),
                )
            )
        batch += rng.sample(batch, k=min(2, len(batch)))  # resent
        features.update("shop", stream.append("shop", batch).new)
    now = T0 + timedelta(minutes=minute)
    for user in ("u1", "u2", "u3"):
        live = features.get("shop", user).features.values(now)
        rebuilt = features.recompute("shop", user, stream).values(now)
        assert live.keys() == rebuilt.keys()
        for name, value in live.items():
            if isinstance(value, float | dict):
                assert value == pytest.approx(rebuilt[name]), name
            else:
                assert value == rebuilt[name], name
        assert live["events"] == len(stream.read("shop", user=user, limit=10_000))
    store.close()


def test_a_list_of_categories_shares_the_events_weight():
    event = _event(0, "Movie Rated", categories=["Comedy", "Drama"])
    state = compute_features([event, _event(1, category="Comedy")])
    weights = state.values(T0 + timedelta(minutes=1))["category_weights"]
    assert weights["Comedy"] == pytest.approx(3 * weights["Drama"], rel=1e-3)


def test_an_anonymous_visitor_who_identifies_brings_their_history(store_url):
    store = Store(store_url)
    create_key(store, "shop", "public")
    stream, features = SqlEventStream(store), FeatureStore(store)

    def send(*raws):
        now = T0 + timedelta(days=1)
        events = [parse_event(r, now, max_age=None) for r in raws]
        features.update("shop", stream.append("shop", events).new)

    anonymous = {"type": "track", "anonymousId": "a1", "timestamp": T0.isoformat()}
    send(
        {**anonymous, "event": "Page Left", "properties": {"dwell_ms": 10_000}},
        {**anonymous, "event": "Viewed", "properties": {"category": "shoes"}},
    )
    assert features.get("shop", "a1").features.events == 2
    send({"type": "identify", "userId": "u1", "anonymousId": "a1", "timestamp": T0.isoformat()})
    send(
        {
            "type": "track",
            "event": "Order Completed",
            "userId": "u1",
            "anonymousId": "a1",
            "properties": {"revenue": 20.0},
            "timestamp": T0.isoformat(),
        }
    )
    assert features.get("shop", "a1") is None  # folded into the user
    values = features.get("shop", "u1").features.values(T0)
    assert values["events"] == 4 and values["purchases"] == 1
    assert values["mean_dwell_s"] == pytest.approx(10.0) and values["top_categories"] == ["shoes"]
    store.close()


def test_merging_two_states_equals_folding_all_their_events():
    a = [_event(m, category="a", dwell_ms=1000) for m in (0, 50, 5000)]
    b = [_event(m, "Order Completed", category="b", revenue=5.0) for m in (20, 3000)]
    merged = compute_features(a)
    merged.merge(compute_features(b))
    together = compute_features(sorted(a + b, key=lambda e: e.timestamp))
    now = T0 + timedelta(days=5)
    left, right = merged.values(now), together.values(now)
    for name in ("events", "purchases", "revenue", "mean_dwell_s", "top_categories"):
        assert left[name] == right[name], name
    assert left["frequency_per_day"] == pytest.approx(right["frequency_per_day"])
    assert left["category_weights"] == pytest.approx(right["category_weights"])
