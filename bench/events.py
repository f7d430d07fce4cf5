"""Event capture, features and segmentation: throughput and latency beside their ceilings.

- `batch_events_per_s`: events a second through `POST /v1/batch` (100 events a request, 4 client
  threads, keep-alive) into SQLite with message-id dedup and feature updates, the server being
  `tailor serve` in its own process; beside `raw_insert_rows_per_s`, the same rows put straight
  into an SQLite table with the same unique key by `sqlite3.executemany` in this process, one
  transaction per 100 rows (the ceiling; `ratio` = batch / raw).
- `single_p50_ms`, `single_p99_ms`: latency of single `POST /v1/track` calls sent at a fixed
  500 requests a second (open loop: each request leaves on schedule, however long the one before
  took).
- `redis_events_per_s`: `RedisEventStream.append` of 100-event batches into a local
  redis-server (null when there is none).
- `feature_update_us`: microseconds to fold one event into a user's features in memory.
- `fit_1m_seconds`, `assign_ms`: `Segmenter(k=6)` on 1,000,000 synthetic users x 16 features
  (MiniBatchKMeans, chosen automatically above 100,000 users), and one user's assignment.

    .venv/bin/python bench/events.py [--quick]

The last line printed is one JSON object (see ../shared/BENCH.md).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import _common  # noqa: F401  (offline settings)
import httpx

GOALS = {
    "batch_events_per_s": 20_000,
    "ratio": 0.25,
    "single_p99_ms": 10,
    "assign_ms": 0.2,
    "fit_1m_seconds": 60,
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _event(i: int) -> dict[str, Any]:
    return {
        "type": "track",
        "event": random.choice(["Viewed", "Content Shown", "Content Clicked", "Page Left"]),
        "userId": f"u{i % 5000}",
        "messageId": str(uuid.uuid4()),
        "properties": {"category": random.choice(["shoes", "bags", "hats"]), "dwell_ms": 4200},
        "context": {"page": {"url": "https://shop.example/p/1"}, "user_agent": "Mozilla/5.0"},
    }


def _server(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    server = subprocess.Popen(
        [sys.executable, "-m", "tailorai.cli", "serve", "--port", str(port), "--rate-limit", "0"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=1)
            return server
        except httpx.TransportError:
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError("tailor serve did not start") from None
            time.sleep(0.1)


def batch_throughput(url: str, key: str, batches: int, threads: int = 4) -> float:
    bodies = [
        json.dumps({"batch": [_event(b * 100 + i) for i in range(100)]}).encode()
        for b in range(batches)
    ]
    share = [bodies[i::threads] for i in range(threads)]
    headers = {"X-Write-Key": key, "Content-Type": "application/json"}

    def send(mine: list[bytes]) -> None:
        with httpx.Client(base_url=url, timeout=60) as http:
            for body in mine:
                answer = http.post("/v1/batch", content=body, headers=headers)
                assert answer.status_code == 200, answer.text

    workers = [threading.Thread(target=send, args=(mine,)) for mine in share]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return batches * 100 / (time.perf_counter() - started)


def raw_inserts(folder: Path, rows: int) -> float:
    db = sqlite3.connect(folder / "raw.db", isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(
        "CREATE TABLE events (id INTEGER PRIMARY KEY, project_id TEXT, message_id TEXT, type TEXT,"
        " event TEXT, user_id TEXT, properties TEXT, context TEXT, timestamp TEXT,"
        " UNIQUE(project_id, message_id))"
    )
    now = datetime.now(UTC).isoformat()
    data = [
        (
            "shop",
            e["messageId"],
            e["type"],
            e["event"],
            e["userId"],
            json.dumps(e["properties"]),
            json.dumps(e["context"]),
            now,
        )
        for e in (_event(i) for i in range(rows))
    ]
    started = time.perf_counter()
    for start in range(0, rows, 100):
        db.execute("BEGIN")
        db.executemany(
            "INSERT OR IGNORE INTO events (project_id, message_id, type, event, user_id,"
            " properties, context, timestamp) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            data[start : start + 100],
        )
        db.execute("COMMIT")
    seconds = time.perf_counter() - started
    db.close()
    return rows / seconds


def single_latency(url: str, key: str, rate: float, seconds: float) -> tuple[float, float]:
    """p50 and p99 in ms of single events sent on a fixed schedule by a few threads."""
    total = int(rate * seconds)
    start = time.perf_counter() + 0.2
    latencies: list[float] = []
    lock = threading.Lock()
    threads = 8
    headers = {"X-Write-Key": key}

    def send(offset: int) -> None:
        with httpx.Client(base_url=url, timeout=30) as http:
            for i in range(offset, total, threads):
                due = start + i / rate
                time.sleep(max(0.0, due - time.perf_counter()))
                http.post("/v1/track", json=_event(i), headers=headers)
                # From when it was due: a late start counts as latency (no coordinated omission).
                elapsed = (time.perf_counter() - due) * 1000
                with lock:
                    latencies.append(elapsed)

    workers = [threading.Thread(target=send, args=(t,)) for t in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    latencies.sort()
    return statistics.median(latencies), latencies[int(0.99 * (len(latencies) - 1))]


def redis_throughput(folder: Path, batches: int) -> float | None:
    server = shutil.which("redis-server")
    if server is None:
        return None
    from tailorai.events import parse_event
    from tailorai.events.redis_stream import RedisEventStream

    port = _free_port()
    process = subprocess.Popen(
        [
            server,
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--dir",
            str(folder),
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
    )
    try:
        stream = RedisEventStream(f"redis://127.0.0.1:{port}/0")
        for _ in range(100):
            try:
                stream.client.ping()
                break
            except Exception:
                time.sleep(0.05)
        now = datetime.now(UTC)
        events = [
            [parse_event(_event(b * 100 + i), now) for i in range(100)] for b in range(batches)
        ]
        started = time.perf_counter()
        for batch in events:
            stream.append("shop", batch)
        return batches * 100 / (time.perf_counter() - started)
    finally:
        process.terminate()
        process.wait(timeout=10)


def feature_update_us(events: int = 100_000) -> float:
    from tailorai.events import parse_event
    from tailorai.segments import UserFeatures

    now = datetime.now(UTC)
    parsed = [parse_event(_event(i), now) for i in range(events)]
    states = [UserFeatures() for _ in range(5000)]
    started = time.perf_counter()
    for i, event in enumerate(parsed):
        states[i % 5000].update(event)
    return (time.perf_counter() - started) / events * 1e6


def segmentation(users: int) -> tuple[float | None, float | None]:
    import numpy as np

    from tailorai.segments import Segmenter

    rng = np.random.default_rng(0)
    centers = rng.normal(0, 3, size=(6, 16))
    data = centers[rng.integers(0, 6, users)] + rng.normal(0, 1, size=(users, 16))
    segmenter = Segmenter(method="kmeans", k=6)
    started = time.perf_counter()
    segmenter.fit(data)
    fit_seconds = time.perf_counter() - started
    names = list(segmenter.feature_names_in_)
    one = [dict(zip(names, row.tolist(), strict=True)) for row in data[:1000]]
    started = time.perf_counter()
    for features in one:
        segmenter.assign_one(features)
    return fit_seconds, (time.perf_counter() - started) / len(one) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer events, 100k users")
    args = parser.parse_args()
    batches = 100 if args.quick else 500
    folder = Path(tempfile.mkdtemp(prefix="bench-events-"))
    env = os.environ.copy()
    env["TAILOR_HOME"] = str(folder / "home")
    env["TAILOR_DATABASE_URL"] = f"sqlite:///{folder / 'tailor.db'}"
    try:
        key = subprocess.run(
            [sys.executable, "-m", "tailorai.cli", "keys", "create", "--kind", "public"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        port = _free_port()
        server = _server(env, port)
        url = f"http://127.0.0.1:{port}"
        try:
            warm_up(url, key)
            batch_rate = batch_throughput(url, key, batches)
            p50, p99 = single_latency(url, key, 500, 3 if args.quick else 10)
        finally:
            server.terminate()
            server.wait(timeout=30)
        raw_rate = raw_inserts(folder, batches * 100)
        redis_rate = redis_throughput(folder, batches)
        update_us = feature_update_us(20_000 if args.quick else 100_000)
        fit_s, assign_ms = segmentation(100_000 if args.quick else 1_000_000)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    result = {
        "bench": "events",
        "batch_events_per_s": round(batch_rate),
        "raw_insert_rows_per_s": round(raw_rate),
        "ratio": round(batch_rate / raw_rate, 3),
        "single_p50_ms": round(p50, 2),
        "single_p99_ms": round(p99, 2),
        "redis_events_per_s": round(redis_rate) if redis_rate else None,
        "feature_update_us": round(update_us, 2),
        "fit_1m_seconds": round(fit_s, 1) if fit_s is not None else None,
        "fit_users": 100_000 if args.quick else 1_000_000,
        "assign_ms": round(assign_ms, 4) if assign_ms is not None else None,
        "goals": GOALS,
        "quick": args.quick,
    }
    print(json.dumps(result))


def warm_up(url: str, key: str) -> None:
    """Warm-up: a few batches, so imports and the first connections are not timed."""
    batch_throughput(url, key, 8, threads=2)


if __name__ == "__main__":
    main()
