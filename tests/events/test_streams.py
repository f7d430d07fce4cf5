"""The message-stream back ends pass one contract, for real: Redis Streams (`.ci/run` starts
redis-server on loopback; else a redis-server of our own) and Kafka (whenever
TAILOR_TEST_KAFKA_BOOTSTRAP names a broker; skipped with the reason otherwise)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
import uuid
from datetime import UTC, datetime

import pytest

from tailorai.events import SqlEventStream, parse_event
from tailorai.events.consumer import Consumer
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
        [server, "--bind", "127.0.0.1", "--port", str(port), "--dir", folder, "--save", ""],
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


@pytest.fixture(params=["redis", "kafka"])
def backend(request):
    """(the stream, a project name of this test's own, how long a dead consumer takes to go)."""
    project = f"p{uuid.uuid4().hex[:10]}"
    if request.param == "redis":
        from tailorai.events.redis_stream import RedisEventStream

        stream = RedisEventStream(request.getfixturevalue("redis_url"))
        yield stream, project, 50
        stream.client.delete(stream.key(project))
        return
    bootstrap = os.environ.get("TAILOR_TEST_KAFKA_BOOTSTRAP")
    if not bootstrap:
        pytest.skip("TAILOR_TEST_KAFKA_BOOTSTRAP is not set: no Kafka broker to test against")
    from tailorai.events.kafka_stream import KafkaEventStream

    yield KafkaEventStream(bootstrap), project, 0


@pytest.fixture
def sink(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'sink.db'}")
    yield store
    store.close()


def _events(n, start=0):
    now = datetime.now(UTC)
    return [
        parse_event(
            {"type": "track", "event": "Viewed", "userId": f"u{i % 3}", "messageId": f"m{i}"}, now
        )
        for i in range(start, start + n)
    ]


def _drain(consumer, rounds=30):
    stored = duplicates = 0
    for _ in range(rounds):
        result = consumer.run_once(count=1000, block_ms=500)
        stored, duplicates = stored + result.stored, duplicates + result.duplicates
        if stored >= 50 and not (result.stored or result.duplicates):
            break
    return stored, duplicates


def test_entries_reach_the_store_once_even_when_sent_twice(backend, sink):
    stream, project, _ = backend
    ensure_project(sink, project)
    sql, features = SqlEventStream(sink), FeatureStore(sink)
    consumer = Consumer(stream, project, "ingest", "w1", sql, features)
    stream.append(project, _events(50))
    stream.append(project, _events(10))  # a client's retry: the same message ids
    stored, duplicates = _drain(consumer)
    assert stored == 50 and duplicates == 10
    assert len(sql.read(project, limit=1000)) == 50
    assert sum(features.get(project, f"u{i}").features.events for i in range(3)) == 50
    assert consumer.run_once(block_ms=200).stored == 0  # nothing new, nothing redelivered
    stream.close(project, "ingest", "w1")


def test_what_a_dead_consumer_read_is_taken_over(backend, sink):
    stream, project, idle_ms = backend
    ensure_project(sink, project)
    sql = SqlEventStream(sink)
    stream.ensure_group(project, "ingest")
    stream.append(project, _events(20))
    taken = []
    for _ in range(30):  # the doomed consumer reads everything and acknowledges nothing
        taken += stream.read(project, "ingest", "doomed", count=100, block_ms=500)
        if len(taken) >= 20:
            break
    assert len(taken) == 20
    stream.close(project, "ingest", "doomed")
    time.sleep(idle_ms / 1000 * 2)
    survivor = Consumer(stream, project, "ingest", "alive", sql, min_idle_ms=idle_ms)
    stored = 0
    for _ in range(60):
        stored += survivor.run_once(block_ms=500).stored
        if stored >= 20:
            break
    assert stored == 20
    assert {e.message_id for _, e in sql.read(project)} == {f"m{i}" for i in range(20)}
    stream.close(project, "ingest", "alive")


def test_server_captures_into_redis_and_the_consume_command_stores(redis_url, tmp_path):
    import sys

    import httpx

    from tailorai.projects import create_key
    from tailorai.server import create_app
    from tests.server.conftest import serve

    database = f"sqlite:///{tmp_path / 'via-redis.db'}"
    store = Store(database)
    project = f"p{uuid.uuid4().hex[:10]}"
    key = create_key(store, project, "public")
    app = create_app(store, rate_limit=0, home=tmp_path, events_url=redis_url)
    batch = [
        {"type": "track", "event": "Viewed", "userId": "u1", "messageId": f"m{i % 5}"}
        for i in range(8)  # three of them resent
    ]
    for url in serve(app):
        answer = httpx.post(f"{url}/v1/batch", json=batch, headers={"X-Write-Key": key})
        assert answer.status_code == 200 and answer.json()["stored"] == 8  # queued in Redis
        assert httpx.get(f"{url}/health").json()["events"] == "redis"
    assert SqlEventStream(store).read(project) == []  # not in the store until consumed
    env = {
        **os.environ,
        "TAILOR_DATABASE_URL": database,
        "TAILOR_EVENTS_URL": redis_url,
        "TAILOR_HOME": str(tmp_path),
    }
    done = subprocess.run(
        [sys.executable, "-m", "tailorai.cli", "events", "consume", "--project", project, "--once"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "5 events stored."
    assert FeatureStore(store).get(project, "u1").features.events == 5
    store.close()
