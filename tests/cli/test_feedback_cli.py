"""`tailor feedback` as a user runs it: a real subprocess on a real SQLite file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

from tailorai.cli.feedback import parse_since
from tailorai.errors import ConfigError
from tailorai.generation.generation_log import GenerationLog
from tailorai.projects import ensure_project
from tailorai.records import Generation
from tailorai.store import Store

CLI = [sys.executable, "-m", "tailorai.cli"]
T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
PROMPT = [{"role": "user", "content": "Write a subject line for the winter sale."}]


def _env(tmp_path):
    return {
        **os.environ,
        "TAILOR_HOME": str(tmp_path / "home"),
        "TAILOR_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        "TAILOR_PROJECT": "shop",
        "COLUMNS": "200",  # rich tables unwrapped, so reasons can be read whole
    }


def _run(tmp_path, *args):
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, env=_env(tmp_path), timeout=300
    )


@pytest.fixture
def generations(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'cli.db'}")
    ensure_project(store, "shop")
    outputs = {"g1": "Winter sale: 30% off", "g2": "Sale", "g3": "Cold days, warm deals"}
    GenerationLog(store).add_many(
        [
            Generation(
                id=gid,
                project_id="shop",
                task="subject_line",
                rung="zero_shot",
                output=output,
                backend="LocalBackend",
                user_id="u1",
                segment="buyers",
                prompt=PROMPT,
                created_at=T0 + timedelta(minutes=n),
            )
            for n, (gid, output) in enumerate(outputs.items())
        ]
    )
    store.close()
    return outputs


def test_import_select_and_export_pairs(tmp_path, generations):
    survey = tmp_path / "survey.csv"
    survey.write_text(
        "generation_id,thumbs,rating,comment,correction\n"
        "g1,up,5,,\n"
        "g2,down,,too short,Winter sale: 30% off everything\n"
        "g3,,9,,\n"  # line 4: no such rating
        "nope,up,,,\n",  # line 5: no such generation
        encoding="utf-8",
    )
    imported = _run(tmp_path, "feedback", "import", str(survey))
    assert imported.returncode == 0, imported.stderr
    assert "2 stored, 0 already there, 2 bad" in imported.stdout
    assert "line 4: rating: must be a whole number of stars 1-5, got '9'" in imported.stdout
    assert "line 5: No generation 'nope'" in imported.stdout
    assert "Error" not in imported.stderr

    refreshed = _run(tmp_path, "feedback", "refresh")
    assert "shop: 2 generation(s) with a reward" in refreshed.stdout, refreshed.stderr
    listed = _run(tmp_path, "feedback", "list", "--user-id", "u1")
    assert listed.returncode == 0 and "corrected: Winter sale: 30% off" in listed.stdout

    out = tmp_path / "review.jsonl"
    selected = _run(tmp_path, "feedback", "select", "--budget", "5", "--json", "--out", str(out))
    assert selected.returncode == 0, selected.stderr
    candidates = json.loads(selected.stdout)
    assert [(c["generation_id"], c["use"]) for c in candidates] == [("g2", "training_pair")]
    assert candidates[0]["reasons"][0] == "corrected"
    assert [json.loads(line) for line in out.read_text().splitlines()] == candidates
    table = _run(tmp_path, "feedback", "select", "--budget", "5")
    assert (
        "training_pair" in table.stdout
        and "thumbs down on buyers (100% of traffic)" in table.stdout
    )
    reviewed = _run(tmp_path, "feedback", "select", "--budget", "5", "--review")
    assert reviewed.returncode == 0 and "1 put in the review queue" in reviewed.stderr
    from tailorai.audit.review import ReviewQueue

    store = Store(f"sqlite:///{tmp_path / 'cli.db'}")
    [item] = ReviewQueue(store, project="shop").items()
    store.close()
    assert item["generation_id"] == "g2" and item["reasons"][0]["source"] == "active_learning"

    folder = tmp_path / "feedback"
    exported = _run(tmp_path, "feedback", "export-pairs", "--out", str(folder))
    assert exported.returncode == 0, exported.stderr
    assert "2 preference pair(s) (1 from correction, 1 from thumbs)" in exported.stdout
    assert f"tailor train --data {folder} --method dpo" in exported.stdout
    pairs = [json.loads(line) for line in (folder / "preferences.jsonl").read_text().splitlines()]
    assert [(p["source"], p["chosen"], p["rejected"]) for p in pairs] == [
        ("correction", "Winter sale: 30% off everything", "Sale"),
        ("thumbs", "Winter sale: 30% off", "Sale"),
    ]
    assert all(p["prompt"] == PROMPT for p in pairs)
    corrections = (folder / "corrections.jsonl").read_text().splitlines()
    assert json.loads(corrections[0])["messages"][-1]["content"].endswith("everything")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["import", "missing.csv"], "Error: Could not read the feedback file missing.csv"),
        (["select", "--budget", "0"], "Error: The 'budget' parameter of select_candidates"),
    ],
)
def test_user_errors_are_one_line(tmp_path, args, message):
    done = _run(tmp_path, "feedback", *args)
    assert done.returncode == 1
    assert done.stderr.startswith(message) and len(done.stderr.strip().splitlines()) == 1
    assert "Traceback" not in done.stderr + done.stdout


def test_since_is_iso_8601_and_utc_unless_a_zone_is_named():
    assert parse_since(None) is None
    assert parse_since("2026-11-30") == datetime(2026, 11, 30, tzinfo=UTC)
    assert parse_since("2026-11-30T14:00:00+02:00") == datetime(2026, 11, 30, 12, tzinfo=UTC)
    assert parse_since("2026-11-30T12:00:00Z") == datetime(2026, 11, 30, 12, tzinfo=UTC)
    with pytest.raises(ConfigError, match=r"--since takes an ISO 8601 time .* got 'last week'"):
        parse_since("last week")
