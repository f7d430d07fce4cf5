"""Feedback on generations: stored once, explicit and implicit signals folded into one reward."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tailorai.events import SqlEventStream, parse_event
from tailorai.feedback import FeedbackLog, RewardConfig, Rewards, UnknownGeneration
from tailorai.generation.generation_log import GenerationLog
from tailorai.projects import ensure_project
from tailorai.records import Generation
from tailorai.store import Store
from tailorai.store.tables import GenerationRewardRow

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def _generation(store, gid, user="u1", version="global@1", arm=None):
    GenerationLog(store).add(
        Generation(
            id=gid,
            project_id="shop",
            task="email",
            rung="zero_shot",
            output=f"output of {gid}",
            backend="LocalBackend",
            user_id=user,
            model_version=version,
            experiment_arm=arm,
        )
    )


def _event(name, seconds, user="u1", **props):
    raw = {
        "type": "track",
        "event": name,
        "userId": user,
        "timestamp": (T0 + timedelta(seconds=seconds)).isoformat(),
        "properties": props,
    }
    return parse_event(raw, T0 + timedelta(seconds=seconds), max_age=None)


def _reward(store, gid):
    with store.session() as s:
        return s.get(GenerationRewardRow, gid)


@pytest.fixture
def store(store_url):
    store = Store(store_url)
    ensure_project(store, "shop")
    ensure_project(store, "other")
    for gid, user in (("g1", "u1"), ("g2", "u2"), ("g3", "u1")):
        _generation(store, gid, user)
    yield store
    store.close()


def test_explicit_feedback_is_stored_once_and_moves_the_reward(store):
    log = FeedbackLog(store)
    row, created = log.add("shop", "g1", thumbs="up", rating=5, key="retry-1")
    again, created_again = log.add("shop", "g1", thumbs="down", key="retry-1")  # a retry
    assert created and not created_again and again["id"] == row["id"] and again["thumbs"] == 1
    assert _reward(store, "g1").reward == pytest.approx(1.0 + 1.0)  # thumbs up, 5 stars
    log.add("shop", "g2", correction="Better text.", comment="too long")
    low = _reward(store, "g2")
    assert low.corrected and low.negative and low.comments == 1
    assert low.reward == pytest.approx(-0.5)
    with pytest.raises(UnknownGeneration):
        log.add("shop", "nope", thumbs="up")
    with pytest.raises(UnknownGeneration):
        log.add("other", "g1", thumbs="up")  # ids never cross projects
    for bad, field in (({"rating": 7}, "rating"), ({"thumbs": "sideways"}, "thumbs"), ({}, "no")):
        with pytest.raises(ValueError, match=field):
            log.add("shop", "g3", **bad)
    found = log.find("shop", user_id="u1")
    assert [f["generation_id"] for f in found] == ["g1"]
    found = log.find("shop")
    assert [f["generation_id"] for f in found] == ["g2", "g1"]
    assert found[1]["model_version"] == "global@1" and found[1]["reward"] == pytest.approx(2.0)
    assert log.find("shop", version="global@9") == []


def test_events_on_generated_content_become_implicit_signals(store):
    stream = SqlEventStream(store)
    stream.append(
        "shop",
        [
            _event("Content Shown", 0, generation_id="g1"),
            _event("Content Clicked", 5, generation_id="g1"),
            _event("Page Left", 65, generation_id="g1", dwell_ms=60_000),
            _event("Viewed", 200),  # the session goes on after the exposure...
            _event("Viewed", 200 + 3 * 3600),  # ...until a gap of over 30 minutes
            _event("Content Shown", 0, user="u2", generation_id="g2"),
            _event("Page Left", 3, user="u2", generation_id="g2", dwell_ms=3_000),
            _event("Order Completed", 10, generation_id="g3"),
        ],
    )
    stream.append(  # feedback events from tracker.js / the client, one for an unknown id
        "shop",
        [
            parse_event(
                {
                    "type": "feedback",
                    "event": "Feedback",
                    "userId": "u1",
                    "properties": {"generation_id": "g1", "thumbs": "down"},
                },
                T0,
            ),
            parse_event(
                {
                    "type": "feedback",
                    "event": "Feedback",
                    "userId": "u1",
                    "properties": {"generation_id": "zzz", "thumbs": "up"},
                },
                T0,
            ),
        ],
    )
    rewards = Rewards(store)
    counts = rewards.refresh("shop")
    assert counts["events"] == 10 and counts["feedback"] == 1
    assert counts["rejected_feedback"] == 1
    g1, g2, g3 = (_reward(store, g) for g in ("g1", "g2", "g3"))
    assert g1.clicked and g1.exposures == 1 and g1.dwell_s == pytest.approx(60.0)
    assert g1.session_s == pytest.approx(200.0) and g1.thumbs == -1 and g1.negative
    config = RewardConfig()
    assert g1.reward == pytest.approx(-1.0 + 0.3 + 0.2 + 0.1 * 200 / 300)
    assert g2.dwell_s == pytest.approx(3.0) and g2.session_s == pytest.approx(3.0)
    assert g2.reward == pytest.approx(
        config.dwell * 3 / 30 + config.bounce + config.session * 3 / 300
    )
    assert g3.converted and g3.reward == pytest.approx(1.0)
    assert rewards.refresh("shop")["events"] == 0  # read once
    assert rewards.summary("shop")["generations"] == 3
    assert rewards.summary("shop")["negative"] == 1


def test_a_survey_export_is_imported_with_bad_rows_counted(store, tmp_path):
    export = tmp_path / "survey.csv"
    export.write_text(
        "id,generation_id,thumbs,rating,comment\na,g1,up,,\nb,g2,,4,nice\nc,nope,up,,\nd,g3,,9,\n"
    )
    log = FeedbackLog(store)
    report = log.import_file("shop", export)
    assert (report["stored"], report["duplicates"], report["bad"]) == (2, 0, 2)
    assert [b["line"] for b in report["bad_lines"]] == [4, 5]
    assert "rating" in report["bad_lines"][1]["reason"]
    assert log.import_file("shop", export)["duplicates"] == 2  # importing twice stores once
    jsonl = tmp_path / "survey.jsonl"
    jsonl.write_text('{"generation_id": "g3", "rating": 2}\nnot json\n')
    report = log.import_file("shop", jsonl)
    assert (report["stored"], report["bad"]) == (1, 1)
