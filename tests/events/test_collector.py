"""Group commit: many requests in one transaction, each still told what became of its events."""

from __future__ import annotations

import concurrent.futures
from datetime import UTC, datetime

from tailorai.events import SqlEventStream, parse_event
from tailorai.events.collector import Collector
from tailorai.projects import ensure_project
from tailorai.segments import FeatureStore
from tailorai.store import Store


def _event(message_id: str, user: str = "u1"):
    raw = {"type": "track", "event": "Viewed", "userId": user, "messageId": message_id}
    return parse_event(raw, datetime.now(UTC))


def test_concurrent_requests_each_get_their_own_answer(store_url):
    store = Store(store_url)
    for project in ("a", "b"):
        ensure_project(store, project)
    stream, features = SqlEventStream(store), FeatureStore(store)
    collector = Collector(stream, features)
    requests = [("a", [_event(f"m{i}"), _event(f"m{i + 1}")]) for i in range(0, 40, 2)]
    requests += [("a", [_event("m0"), _event("m0")])]  # a resend, twice over
    requests += [("b", [_event("m0", user="u9")])]  # another project: not a duplicate
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda r: collector.append(*r), requests))
    collector.close()
    assert sum(a.stored for a in answers[:20]) == 40
    assert answers[20].stored == 0 and answers[20].duplicates == 2
    assert answers[21].stored == 1
    assert len(stream.read("a", limit=100)) == 40 and len(stream.read("b")) == 1
    assert features.get("a", "u1").features.events == 40
    assert features.get("b", "u9").features.events == 1
    store.close()


def test_a_failed_commit_reaches_every_waiting_request(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'c.db'}")
    collector = Collector(SqlEventStream(store))  # project "nope" does not exist: FK fails
    futures = [collector.submit("nope", [_event(f"m{i}")]) for i in range(3)]
    for future in futures:
        assert future.exception(timeout=10) is not None
    collector.close()
    store.close()
