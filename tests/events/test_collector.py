"""Group commit: many requests in one transaction, each still told what became of its events."""

from __future__ import annotations

import concurrent.futures
import threading
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


class _Gated:
    """The real stream, held shut until the test opens it: requests pile up into one group."""

    def __init__(self, stream):
        self.stream, self.open = stream, threading.Event()

    def append(self, *args, **kwargs):
        self.open.wait(timeout=10)
        return self.stream.append(*args, **kwargs)


def test_one_bad_write_fails_its_own_request_not_the_others_grouped_with_it(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'p.db'}")
    ensure_project(store, "a")
    gated, features = _Gated(SqlEventStream(store)), FeatureStore(store)
    collector = Collector(gated, features)
    first = collector.submit("a", [_event("m-first")])  # the writer takes it and waits
    poison = _event("m-poison")
    poison.properties["dwell_ms"] = 10**400  # past what parse_event lets in: a write that fails
    futures = [collector.submit("a", [_event(f"m{i}", user=f"u{i}")]) for i in range(5)]
    futures.insert(2, collector.submit("a", [poison]))
    gated.open.set()
    assert first.result(timeout=30).stored == 1
    assert futures[2].exception(timeout=30) is not None
    answers = [f.result(timeout=30) for i, f in enumerate(futures) if i != 2]
    collector.close()
    assert [a.stored for a in answers] == [1] * 5
    assert len(gated.stream.read("a", limit=100)) == 6
    assert features.get("a", "u4").features.events == 1
    store.close()
