"""The Python client against the real server: batching, flush, retries until the server is up."""

from __future__ import annotations

import threading
import time

from tailorai.events import Client, SqlEventStream
from tailorai.projects import create_key
from tailorai.server import create_app
from tailorai.store import Store
from tests.server.conftest import _free_port, serve


def _stored(store, project="shop"):
    return [e for _, e in SqlEventStream(store).read(project, limit=100_000)]


def test_events_are_batched_and_flushed(live):
    with Client(live.public_key, live.url, batch_size=50, flush_interval=5) as client:
        ids = [client.track(f"u{i % 3}", "Viewed", {"i": i}) for i in range(120)]
        client.identify("u1", {"plan": "pro"})
        client.page(None, "Home", anonymous_id="a1")
        client.feedback("u1", "gen-1", {"thumbs": "up"})
        assert client.flush(timeout=30)
        assert client.sent == 123 and client.rejected == 0 and client.dropped == 0
    events = _stored(live.store)
    assert len(events) == 123
    assert {e.message_id for e in events} >= set(ids)
    feedback = next(e for e in events if e.type == "feedback")
    assert feedback.properties == {"generation_id": "gen-1", "thumbs": "up"}
    assert next(e for e in events if e.type == "page").anonymous_id == "a1"


def test_refused_events_are_counted_not_retried(live):
    with Client("tk_pub_wrong", live.url) as client:
        client.track("u1", "Viewed")
        client.flush()
        assert client.rejected == 1 and client.sent == 0
        assert "401" in client.errors[0]


def test_a_batch_is_retried_until_the_server_comes_up(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'late.db'}")
    key = create_key(store, "shop", "public")
    port = _free_port()
    client = Client(key, f"http://127.0.0.1:{port}", flush_interval=0.1, max_retries=10)
    client.track("u1", "Early Bird")
    started = threading.Event()

    def late_server() -> None:
        time.sleep(1.0)  # the first tries find nobody listening
        for _url in serve(create_app(store, rate_limit=0), port):
            started.set()
            client.flush(timeout=60)

    thread = threading.Thread(target=late_server)
    thread.start()
    thread.join(timeout=90)
    client.close()
    assert started.is_set() and client.sent == 1
    assert [e.event for e in _stored(store)] == ["Early Bird"]
    store.close()
