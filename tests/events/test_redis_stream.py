"""Redis Streams for real (`.ci/run` starts redis-server on loopback): append, consume into the
SQL store exactly once, and take over what a dead consumer left unacknowledged."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from datetime import UTC, datetime

import pytest

from tailorai.events import SqlEventStream, parse_event
from tailorai.events.redis_stream import Consumer, RedisEventStream
from tailorai.projects import ensure_project
from tailorai.segments import FeatureStore
from tailorai.store import Store
from tests.server.conftest import _free_port


@pytest.fixture(scope="module")
def redis_url():
    """TAILOR_TEST_REDIS_URL when set, else a throwaway redis-server of our own."""
    if os.environ.get("TAILOR_TEST_REDIS_URL"):
        yield os.environ["TAILOR_TEST_REDIS_URL"]
        return
    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("redis-server is not installed (.ci/run installs Debian's redis-server)")
    folder = tempfile.mkdtemp(prefix="tailor-redis-")
    port = _free_port()
    process = subprocess.Popen(
        [
            server,
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--dir",
            folder,
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
    )
    import redis

    client = redis.Redis(port=port)
    for _ in range(100):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0"
    process.terminate()
    process.wait(timeout=10)
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def parts(redis_url, tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'r.db'}")
    ensure_project(store, "shop")
    stream = RedisEventStream(redis_url, prefix=f"test:{tmp_path.name}:")
    yield stream, SqlEventStream(store), FeatureStore(store)
    stream.client.delete(stream.key("shop"))
    store.close()


def _events(n, start=0):
    now = datetime.now(UTC)
    return [
        parse_event(
            {"type": "track", "event": "Viewed", "userId": f"u{i % 3}", "messageId": f"m{i}"}, now
        )
        for i in range(start, start + n)
    ]


def test_entries_reach_the_store_once_even_when_sent_twice(parts):
    redis_stream, sql, features = parts
    redis_stream.append("shop", _events(50))
    redis_stream.append("shop", _events(10))  # a client's retry: the same message ids
    consumer = Consumer(redis_stream, "shop", "ingest", "w1", sql, features)
    result = consumer.run_once(count=1000)
    assert result.stored == 50 and result.duplicates == 10
    assert len(sql.read("shop", limit=1000)) == 50
    assert redis_stream.pending("shop", "ingest") == 0  # all acknowledged
    assert sum(features.get("shop", f"u{i}").features.events for i in range(3)) == 50
    assert consumer.run_once().stored == 0  # nothing new


def test_a_dead_consumers_entries_are_taken_over(parts):
    redis_stream, sql, features = parts
    redis_stream.ensure_group("shop", "ingest")
    redis_stream.append("shop", _events(20))
    # A consumer reads and dies before acknowledging anything.
    taken = redis_stream.read("shop", "ingest", "dead", count=100)
    assert len(taken) == 20 and redis_stream.pending("shop", "ingest") == 20
    survivor = Consumer(redis_stream, "shop", "ingest", "alive", sql, features, min_idle_ms=50)
    time.sleep(0.1)
    result = survivor.run_once()
    assert result.stored == 20
    assert redis_stream.pending("shop", "ingest") == 0
    assert {e.message_id for _, e in sql.read("shop")} == {f"m{i}" for i in range(20)}
