"""Segmentation versions for real: fit on stored users, promote, and users re-assigned as their
events arrive, every move kept with its time."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from tailorai.errors import ConfigError, DataError
from tailorai.events import SqlEventStream, parse_event
from tailorai.events.collector import Collector
from tailorai.projects import create_key
from tailorai.segments import FeatureStore
from tailorai.segments.segmentation import Assigner, Segmentations
from tailorai.store import Store
from tailorai.store.tables import SegmentAssignmentRow
from tests.server.conftest import sign_in

NOW = datetime.now(UTC)


def _event(user, name, minutes_ago, **props):
    raw = {
        "type": "track",
        "event": name,
        "userId": user,
        "properties": props,
        "timestamp": (NOW - timedelta(minutes=minutes_ago)).isoformat(),
    }
    return parse_event(raw, NOW, max_age=None)


def _population(rng):
    events = []
    for i in range(30):  # buyers: recent, buying
        for j in range(6):
            events.append(_event(f"buyer{i}", "Order Completed", 60 * j + i, revenue=40.0))
    for i in range(30):  # readers: recent, long pages, no purchases
        for j in range(6):
            events.append(_event(f"reader{i}", "Page Left", 60 * j + i, dwell_ms=240_000))
    for i in range(30):  # lapsed: one visit months ago
        events.append(_event(f"gone{i}", "Viewed", 60 * 24 * rng.randint(90, 150)))
    return events


@pytest.fixture
def project(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    create_key(store, "shop", "public")
    segmentations = Segmentations(store, tmp_path / "home")
    features = FeatureStore(store, Assigner(segmentations, ttl=0))
    collector = Collector(SqlEventStream(store), features)
    collector.append("shop", _population(random.Random(0)))
    yield store, segmentations, features, collector
    collector.close()
    store.close()


def test_fit_promote_and_real_time_moves(project):
    store, segmentations, features, collector = project
    version = segmentations.fit("shop", k=3, now=NOW)
    assert version.version == 1 and version.stage == "candidate" and version.users == 90
    assert version.path.is_file() and (version.path.parent / "v1-selection.png").is_file()
    assert sorted(version.summary["sizes"].values()) == [30, 30, 30]
    assert features.get("shop", "buyer1").segment is None  # not until promoted
    assert segmentations.promote("shop", 1, now=NOW) == 90
    names = {features.get("shop", u).segment for u in ("buyer1", "reader1", "gone1")}
    assert len(names) == 3 and any("buyers" in n for n in names)
    buyers = features.get("shop", "buyer1").segment
    reader_before = features.get("shop", "reader3").segment
    # A reader starts buying: the next events move them, and the move is kept.
    collector.append(
        "shop", [_event("reader3", "Order Completed", 0, revenue=40.0) for _ in range(8)]
    )
    assert features.get("shop", "reader3").segment == buyers
    with store.session() as s:
        moves = s.scalars(
            select(SegmentAssignmentRow).where(SegmentAssignmentRow.user_key == "reader3")
        ).all()
    assert [(m.previous, m.segment) for m in moves] == [
        (None, reader_before),
        (reader_before, buyers),
    ]
    # A second version replaces the first in production.
    segmentations.fit("shop", k=2, now=NOW)
    segmentations.promote("shop", 2, now=NOW)
    assert [v.stage for v in segmentations.list("shop")] == ["archived", "production"]


def test_errors_name_the_fix(project, tmp_path):
    _store, segmentations, _features, _collector = project
    with pytest.raises(ConfigError, match="no segmentation yet"):
        segmentations.get("other")
    segmentations.fit("shop", k=3, now=NOW)
    with pytest.raises(ConfigError, match="No segmentation version 7"):
        segmentations.get("shop", 7)
    with pytest.raises(DataError, match="at least 3"):
        Segmentations(Store(f"sqlite:///{tmp_path / 'empty.db'}"), tmp_path).fit("nobody")


def test_segments_endpoint(live):
    store = live.store
    Collector(SqlEventStream(store), FeatureStore(store)).append(
        "shop", _population(random.Random(1))
    )
    headers = {"Authorization": f"Bearer {live.secret_key}"}
    with live.client() as http:
        assert http.get("/v1/segments", headers=headers).status_code == 404
        segmentations = live.app.state.services.segmentations
        segmentations.fit("shop", k=3, now=NOW)
        segmentations.promote("shop", 1, now=NOW)
        answer = http.get("/v1/segments", headers=headers)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["version"] == 1 and len(body["segments"]) == 3
    assert sum(s["users_now"] for s in body["segments"]) == 90
    assert all(s["profile"]["description"] for s in body["segments"])
    other = create_key(store, "other-shop", "secret")
    with live.client() as http:
        elsewhere = http.get("/v1/segments", headers={"Authorization": f"Bearer {other}"})
        sign_in(http, live.secret_key)
        page = http.get("/")
    assert elsewhere.status_code == 404  # another project's key sees none of these segments
    assert page.status_code == 200 and "segmentation 1" in page.text
    assert body["segments"][0]["profile"]["description"] in page.text


def test_cli_fit_show_assign(tmp_path):
    env = os.environ.copy()
    env["TAILOR_HOME"] = str(tmp_path / "home")
    env["TAILOR_DATABASE_URL"] = f"sqlite:///{tmp_path / 'cli.db'}"
    store = Store(env["TAILOR_DATABASE_URL"])
    create_key(store, "shop", "public")
    Collector(SqlEventStream(store), FeatureStore(store)).append(
        "shop", _population(random.Random(2))
    )
    store.close()
    cli = [sys.executable, "-m", "tailorai.cli", "segments"]

    def run(*args):
        return subprocess.run([*cli, *args], capture_output=True, text=True, env=env, timeout=120)

    fitted = run("fit", "--project", "shop", "--k", "3", "--promote")
    assert fitted.returncode == 0, fitted.stderr
    assert (
        "Choosing the number of segments" in fitted.stdout and "90 users assigned" in fitted.stdout
    )
    shown = run("show", "--project", "shop", "--json")
    assert shown.returncode == 0 and '"stage": "production"' in shown.stdout
    one = run("assign", "buyer1", "--project", "shop")
    assert one.returncode == 0 and one.stdout.startswith("buyer1: ")
    missing = run("show", "--project", "nowhere")
    assert missing.returncode == 1 and "no segmentation yet" in missing.stderr
    named = run("fit", "--project", "shop", "--k", "3", "--name", "0=regulars", "--json")
    assert named.returncode == 0, named.stderr
    assert '"regulars"' in named.stdout
    wrong = run("fit", "--project", "shop", "--name", "regulars")
    assert wrong.returncode == 1 and "--name takes NUMBER=NAME" in wrong.stderr
    bad = run("fit", "--project", "shop", "--k", "1")
    assert bad.returncode == 1 and "The 'k' parameter of Segmenter" in bad.stderr
