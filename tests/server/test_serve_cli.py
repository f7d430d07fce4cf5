"""`tailor keys` and `tailor serve` as a user runs them, killed hard in the middle of a load."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime

import httpx
import pytest

from tailorai.events import SqlEventStream, parse_event
from tailorai.projects import create_key
from tailorai.segments import FeatureStore
from tailorai.store import Store
from tests.server.conftest import _free_port

CLI = [sys.executable, "-m", "tailorai.cli"]


def _env(tmp_path) -> dict[str, str]:
    env = os.environ.copy()
    env["TAILOR_HOME"] = str(tmp_path / "home")
    env["TAILOR_DATABASE_URL"] = f"sqlite:///{tmp_path / 'tailor.db'}"
    return env


def _run(env, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, env=env, timeout=120)


def test_keys_create_list_revoke(tmp_path):
    env = _env(tmp_path)
    created = _run(env, "keys", "create", "--project", "shop", "--kind", "public", "--name", "web")
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip()
    assert key.startswith("tk_pub_") and len(key) > 40
    listed = _run(env, "keys", "list", "--json")
    [info] = json.loads(listed.stdout)
    assert info["project"] == "shop" and info["prefix"] == key[:14] and key not in listed.stdout
    assert _run(env, "keys", "revoke", key[:14]).returncode == 0
    bad = _run(env, "keys", "create", "--kind", "admin")
    assert bad.returncode == 1 and bad.stderr.startswith("Error: A key is 'public' or 'secret'")
    assert "Traceback" not in bad.stderr


@pytest.mark.slow
def test_a_killed_server_loses_no_acknowledged_event(tmp_path):
    env = _env(tmp_path)
    key = _run(env, "keys", "create", "--kind", "public").stdout.strip()
    port = _free_port()
    server = subprocess.Popen(
        [*CLI, "serve", "--port", str(port), "--rate-limit", "0"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{url}/openapi.json", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and server.poll() is None, "no server"
                time.sleep(0.1)
        acknowledged: list[str] = []
        stop = threading.Event()

        def load() -> None:
            with httpx.Client(base_url=url, timeout=5) as http:
                while not stop.is_set():
                    ids = [str(uuid.uuid4()) for _ in range(20)]
                    batch = [
                        {"type": "track", "event": "Tick", "userId": "u", "messageId": m}
                        for m in ids
                    ]
                    try:
                        answer = http.post("/v1/batch", json=batch, headers={"X-Write-Key": key})
                    except httpx.TransportError:
                        return  # the server is gone mid-request: not acknowledged
                    if answer.status_code == 200:
                        acknowledged.extend(ids)

        senders = [threading.Thread(target=load) for _ in range(4)]
        for sender in senders:
            sender.start()
        time.sleep(1.5)
        os.kill(server.pid, signal.SIGKILL)
        server.wait(timeout=10)
        stop.set()
        for sender in senders:
            sender.join(timeout=10)
    finally:
        if server.poll() is None:
            server.kill()
    assert len(acknowledged) > 100
    store = Store(env["TAILOR_DATABASE_URL"])
    stored = {e.message_id for _, e in SqlEventStream(store).read("default", limit=1_000_000)}
    store.close()
    assert set(acknowledged) <= stored


def test_users_show_prints_features_or_one_clear_error(tmp_path):
    env = _env(tmp_path)
    store = Store(env["TAILOR_DATABASE_URL"])
    create_key(store, "shop", "public")
    now = datetime.now(UTC)
    events = [parse_event({"type": "track", "event": "Viewed", "userId": "u7"}, now)]
    FeatureStore(store).update("shop", SqlEventStream(store).append("shop", events).new)
    store.close()
    shown = _run(env, "users", "show", "u7", "--project", "shop", "--json")
    assert shown.returncode == 0, shown.stderr
    profile = json.loads(shown.stdout)
    assert profile["features"]["events"] == 1 and profile["recent_events"][0]["event"] == "Viewed"
    table = _run(env, "users", "show", "u7", "--project", "shop")
    assert "frequency_per_day" in table.stdout and "Viewed" in table.stdout
    missing = _run(env, "users", "show", "nobody", "--project", "shop")
    assert missing.returncode == 1 and missing.stderr.startswith("Error: No user 'nobody'")
