"""Triggers and the schedule of `tailor retrain`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tailorai.errors import ConfigError
from tailorai.feedback import FeedbackLog
from tailorai.generation.generation_log import GenerationLog
from tailorai.projects import ensure_project
from tailorai.records import Generation
from tailorai.retrain import RetrainFlow
from tailorai.retrain.schedule import every, run_forever, tick, triggered
from tailorai.store import Store
from tailorai.store.tables import GenerationRewardRow
from tests.cli.test_generation_cli import _run


def test_durations_read_as_people_write_them():
    assert every("6h") == 21_600 and every("1h30m") == 5_400 and every("1d") == 86_400
    for bad in ("six hours", "", "0s", "5x"):
        with pytest.raises(ConfigError, match="--every"):
            every(bad)


def _generations(store, count, when, reward):
    GenerationLog(store).add_many(
        [
            Generation(
                id=f"g{when:%H%M}{i}",
                project_id="shop",
                task="email",
                rung="zero_shot",
                output="x",
                backend="test",
                user_id=f"u{i}",
                created_at=when,
            )
            for i in range(count)
        ]
    )
    with store.engine.begin() as connection:
        connection.execute(
            GenerationRewardRow.__table__.insert(),
            [
                {
                    "generation_id": f"g{when:%H%M}{i}",
                    "project_id": "shop",
                    "user_key": None,
                    "corrected": False,
                    "comments": 0,
                    "exposures": 1,
                    "clicked": False,
                    "converted": False,
                    "session_s": 0.0,
                    "reward": reward,
                    "negative": False,
                    "updated_at": when,
                }
                for i in range(count)
            ],
        )


def test_feedback_thresholds_decide_when_to_retrain(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'triggers.db'}")
    ensure_project(store, "shop")
    # Feedback is stamped with the real clock, so "now" must be the real one too: a fixed date
    # made this test fail once the calendar passed it.
    now = datetime.now(UTC).replace(microsecond=0)
    _generations(store, 4, now - timedelta(hours=30), reward=0.8)  # the day before
    _generations(store, 4, now - timedelta(hours=2), reward=0.1)  # today: worse
    assert triggered(store, "shop", None) == (True, "scheduled")
    due, why = triggered(store, "shop", None, min_feedback=3, now=now)
    assert not due and "0 new feedback items < 3" in why
    log = FeedbackLog(store)
    for i in range(3):
        log.add("shop", f"g{(now - timedelta(hours=2)):%H%M}{i}", thumbs="down")
    assert triggered(store, "shop", None, min_feedback=3, now=now)[0]
    assert not triggered(store, "shop", now + timedelta(hours=1), min_feedback=3, now=now)[0]
    due, why = triggered(store, "shop", None, reward_drop=0.5, now=now)
    assert due and "mean reward fell" in why
    assert not triggered(store, "shop", None, reward_drop=2.0, now=now)[0]
    store.close()


def test_a_tick_retrains_only_when_due_and_the_loop_keeps_time(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'tick.db'}")
    ensure_project(store, "shop")
    flow = RetrainFlow(store, project="shop", home=tmp_path)
    quiet = tick(flow, min_feedback=5)
    assert quiet["run"] is None and not quiet["due"]
    scheduled = tick(flow)
    assert scheduled["run"]["status"] == "skipped" and "no new data" in scheduled["run"]["reason"]
    slept = []
    run_forever(lambda: None, 60.0, rounds=3, sleep=slept.append)
    assert len(slept) == 2 and all(55 < s <= 60 for s in slept)
    store.close()


def test_the_command_reports_each_round_and_refuses_bad_durations(tmp_path):
    done = _run(tmp_path, "retrain", "--every", "1s", "--rounds", "2", "--no-prefect")
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("skipped: no new data") == 2
    bad = _run(tmp_path, "retrain", "--every", "soon")
    assert (
        bad.returncode == 1
        and bad.stderr.startswith("Error: --every")
        and "Traceback" not in bad.stderr
    )
    history = _run(tmp_path, "retrain", "--history", "--json")
    assert history.returncode == 0 and '"status": "skipped"' in history.stdout
