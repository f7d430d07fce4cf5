"""`tailor events import`: real log lines in, events out, idempotent, bad lines quarantined."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tailorai.events import SqlEventStream
from tailorai.events.log_import import import_events
from tailorai.projects import ensure_project
from tailorai.segments import FeatureStore
from tailorai.store import Store

AGENT = "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0"
VIEW = '"GET /products/42?ref=mail HTTP/1.1" 200 5120 "https://mail.example/"'
LOG = f"""\
203.0.113.9 - - [29/Nov/2026:10:00:01 +0100] {VIEW} "{AGENT}"
203.0.113.9 - - [29/Nov/2026:10:00:01 +0100] "GET /static/app.css HTTP/1.1" 200 900 "-" "{AGENT}"
203.0.113.9 - alice [29/Nov/2026:10:02:30 +0100] "POST /cart HTTP/1.1" 302 0 "-" "{AGENT}"
this line is not a log line
203.0.113.9 - - [29/Nov/2026:10:00:01 +0100] {VIEW} "{AGENT}"
198.51.100.7 - - [29/Nov/2026:10:05:00 +0000] "GET / HTTP/1.1" 200 1024
"""


def test_combined_log_lines_become_events_once(tmp_path):
    path = tmp_path / "access.log"
    path.write_text(LOG)
    store = Store(f"sqlite:///{tmp_path / 'i.db'}")
    ensure_project(store, "shop")
    stream, features = SqlEventStream(store), FeatureStore(store)
    report = import_events(path, "combined", "shop", stream, features)
    assert report.as_dict() == {
        "lines": 6,
        "stored": 4,
        "duplicates": 0,
        "skipped": {"static_file": 1},
        "quarantined": 1,
    }
    assert report.quarantined[0].line == 4 and "combined log format" in report.quarantined[0].error
    events = [e for _, e in stream.read("shop")]
    first = events[0]
    assert first.type == "page" and first.properties["path"] == "/products/42"
    assert first.context["page"]["referrer"] == "https://mail.example/"
    assert first.timestamp.isoformat() == "2026-11-29T09:00:01+00:00"
    assert "203.0.113.9" not in json.dumps(first.as_dict())  # the IP is not stored
    post = events[1]
    assert post.type == "track" and post.event == "HTTP POST" and post.user_id == "alice"
    assert events[2].message_id != first.message_id  # the same request twice is two visits
    again = import_events(path, "combined", "shop", stream, features)
    assert again.stored == 0 and again.duplicates == 4
    # The visitor signed in as alice: their anonymous page views are alice's now.
    assert features.get("shop", first.anonymous_id) is None
    assert features.get("shop", "alice").features.events == 3
    store.close()


def test_jsonl_import_and_cli_errors(tmp_path):
    path = tmp_path / "events.jsonl"
    rows = [
        {"type": "track", "event": "Viewed", "userId": "u1", "timestamp": "2020-01-01T00:00:00Z"},
        {"type": "track", "event": "Viewed", "userId": "u1", "messageId": "m-1"},
        {"type": "track", "userId": "u1"},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + "{broken\n")
    env = os.environ.copy()
    env["TAILOR_HOME"] = str(tmp_path / "home")
    env["TAILOR_DATABASE_URL"] = f"sqlite:///{tmp_path / 'cli.db'}"
    cli = [sys.executable, "-m", "tailorai.cli", "events", "import"]
    done = subprocess.run(
        [*cli, str(path), "--format", "jsonl", "--json"], capture_output=True, text=True, env=env
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["stored"] == 2 and summary["quarantined"] == 2
    with open(summary["quarantine_file"]) as f:
        quarantined = f.read().splitlines()
    assert [json.loads(q)["line"] for q in quarantined] == [3, 4]
    store = Store(env["TAILOR_DATABASE_URL"])
    [old, _] = [e for _, e in SqlEventStream(store).read("default")]
    assert old.timestamp.year == 2020 and old.flags == []  # history is kept, not clamped
    store.close()
    missing = subprocess.run(
        [*cli, str(tmp_path / "none.log")], capture_output=True, text=True, env=env
    )
    assert missing.returncode == 1 and missing.stderr.startswith("Error: No log file at")
    wrong = subprocess.run(
        [*cli, str(path), "--format", "csv"], capture_output=True, text=True, env=env
    )
    assert wrong.returncode == 1 and "Unknown log format 'csv'" in wrong.stderr
