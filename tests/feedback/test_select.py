"""Active learning: which generations come first for retraining or review, and why."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tailorai.errors import ConfigError
from tailorai.feedback import FeedbackLog
from tailorai.feedback.select import dissimilarity, inputs_key, select_candidates
from tailorai.generation.generation_log import GenerationLog
from tailorai.projects import ensure_project
from tailorai.records import Generation
from tailorai.store import Store

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def _generation(gid, minute, *, segment="browsers", logprob=-0.8, project="shop", **values):
    fields = {
        "task": "email",
        "rung": "zero_shot",
        "output": f"A short note about {gid}.",
        "inputs": {"goal": f"note {gid}"},
        **values,
    }
    return Generation(
        id=gid,
        project_id=project,
        backend="LocalBackend",
        user_id=f"user-{gid}",
        segment=segment,
        mean_logprob=logprob,
        created_at=T0 + timedelta(minutes=minute),
        **fields,
    )


@pytest.fixture
def store(store_url):
    """Nine generations on "browsers" (75% of traffic), one on "collectors", two on "buyers"."""
    store = Store(store_url)
    ensure_project(store, "shop")
    ensure_project(store, "other")
    boots = {"task": "product_description", "inputs": {"product": "boots", "tone": "warm"}}
    GenerationLog(store).add_many(
        [
            *(_generation(f"boring{i}", i, logprob=-0.5 - i / 10) for i in range(6)),
            _generation("fixed", 10, logprob=-1.0),
            _generation("down_big", 11, logprob=-1.2),
            _generation("down_small", 12, segment="collectors", logprob=-0.9),
            _generation("unsure", 13, logprob=-4.1),
            _generation(
                "rung_a",
                14,
                segment="buyers",
                rung="few_shot",
                output="Sturdy waterproof leather boots for long trails.",
                **boots,
            ),
            _generation(
                "rung_b",
                15,
                segment="buyers",
                rung="segment_adapter",
                model_version="buyers@2",
                # The same request, keys in another order: still the same inputs.
                inputs={"tone": "warm", "product": "boots"},
                task="product_description",
                output="Cheap sandals, great for beach days and summer.",
            ),
            _generation("elsewhere", 16, project="other", logprob=-9.0),
        ]
    )
    log = FeedbackLog(store)
    log.add("shop", "fixed", correction="A shorter, friendlier note.")
    log.add("shop", "down_big", thumbs="down")
    log.add("shop", "down_small", thumbs="down")
    log.add("shop", "boring0", thumbs="up", rating=5)
    log.add("shop", "boring1", comment="fine")
    log.add("other", "elsewhere", thumbs="down")
    yield store
    store.close()


def test_candidates_come_in_order_with_their_reasons(store):
    got = select_candidates(store, "shop", 20)
    assert [c.generation_id for c in got] == [
        "fixed",  # a correction: always first
        "down_big",  # a thumbs down on the busiest segment...
        "down_small",  # ...before one on a small segment
        "rung_a",  # two rungs wrote very different things for one request
        "rung_b",
        "unsure",  # the least sure reply of the pool
    ]  # and no boring one, nor another project's generation
    first, big, small, rung_a, rung_b, unsure = got
    assert first.use == "training_pair" and {c.use for c in got[1:]} == {"review"}
    assert first.reasons == ["corrected", "negative (corrected) on browsers (75% of traffic)"]
    assert (first.user_id, first.segment, first.task) == ("user-fixed", "browsers", "email")
    assert big.reasons == ["thumbs down on browsers (75% of traffic)"]
    assert small.reasons == ["thumbs down on collectors (8% of traffic)"]
    assert big.score == pytest.approx(1.0) and small.score == pytest.approx(0.5 + 0.5 / 9)
    assert rung_a.reasons == ["rungs disagree: few_shot vs segment_adapter (dissimilarity 0.93)"]
    assert rung_b.reasons == ["rungs disagree: segment_adapter vs few_shot (dissimilarity 0.93)"]
    assert unsure.reasons == ["least sure (mean log-prob -4.10, bottom 8%)"]
    assert unsure.score == pytest.approx(0.5 * (1 - 1 / 12))
    assert got[0].as_dict()["reasons"] == first.reasons


def test_budget_weights_and_window(store):
    assert [c.generation_id for c in select_candidates(store, "shop", 2)] == ["fixed", "down_big"]
    for budget in (0, -3):
        with pytest.raises(ConfigError, match=r"'budget' parameter .* Got"):
            select_candidates(store, "shop", budget)
    # Weights reorder the rest; a correction stays first even weighted at nothing.
    loud = select_candidates(store, "shop", 3, weights={"least_sure": 5, "correction": 0})
    assert [c.generation_id for c in loud] == ["fixed", "unsure", "down_big"]
    quiet = select_candidates(store, "shop", 9, weights={"negative": 0, "disagreement": 0})
    assert [c.generation_id for c in quiet] == ["fixed", "unsure"]  # a weight of 0: signal off
    assert quiet[0].reasons == ["corrected"]
    with pytest.raises(ConfigError, match="Unknown selection weight 'recency'"):
        select_candidates(store, "shop", 3, weights={"recency": 1})
    with pytest.raises(ConfigError, match="must be a number >= 0"):
        select_candidates(store, "shop", 3, weights={"negative": -1})
    # Since minute 12: the small segment is now half the traffic, the unsure reply a quarter.
    late = select_candidates(store, "shop", 10, since=T0 + timedelta(minutes=12))
    assert [c.generation_id for c in late] == ["down_small", "rung_a", "rung_b", "unsure"]
    assert late[0].reasons == ["thumbs down on collectors (25% of traffic)"]
    assert select_candidates(store, "shop", 5, since=T0 + timedelta(days=1)) == []


def test_ratings_and_model_versions_are_named(store):
    more = [
        _generation("v1", 20, task="faq", inputs={"q": "returns"}, model_version="global@1"),
        _generation("v2", 21, task="faq", inputs={"q": "returns"}, model_version="global@2"),
        _generation(
            "v3", 22, task="faq", inputs={"q": "returns"}, model_version="global@2", output="x"
        ),
    ]
    more[0].output = "Returns are free within thirty days of delivery."
    more[1].output = "Returns are free within thirty days."  # close: not a disagreement
    GenerationLog(store).add_many(more)
    FeedbackLog(store).add("shop", "v1", rating=2)
    got = {c.generation_id: c for c in select_candidates(store, "shop", 50)}
    assert got["v1"].reasons[0] == "2 stars on browsers (80% of traffic)"
    assert got["v3"].reasons == [
        "model versions disagree: global@2 vs global@1 (dissimilarity 1.00)"
    ]
    assert "v2" not in got  # agrees with v1; only v3 stands apart from it


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [("Warm wool socks", "warm socks!", 1 / 3), ("", "", 0.0), ("a b", "c d", 1.0)],
)
def test_dissimilarity(a, b, expected):
    assert dissimilarity(a, b) == pytest.approx(expected)


def test_inputs_key_ignores_key_order_but_not_task():
    assert inputs_key("email", {"a": 1, "b": [2]}) == inputs_key("email", {"b": [2], "a": 1})
    assert inputs_key("email", {"a": 1}) != inputs_key("faq", {"a": 1})
