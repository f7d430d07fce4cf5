"""`tailor plan` and `tailor evaluate` as a user runs them: a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.training.conftest import write_dataset
from tests.training.test_evaluate import one_torch_thread, trained_home  # noqa: F401


def _run(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = os.environ.copy()
    env["TAILOR_HOME"] = str(home)
    env["TAILOR_DATABASE_URL"] = f"sqlite:///{home / 'tailor.db'}"
    env["COLUMNS"] = "200"
    env["OMP_NUM_THREADS"] = "1"  # the tiny model gains nothing from more (see test_evaluate)
    return subprocess.run(
        [sys.executable, "-m", "tailorai.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )


def _one_line_error(result: subprocess.CompletedProcess[str], message: str) -> None:
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: ") and message in lines[0], lines


def test_plan_table_and_json_by_counts(tmp_path):
    data = write_dataset(tmp_path / "data")
    table = _run("plan", "--data", str(data), "--user-adapter-min", "10", home=tmp_path / "h")
    assert table.returncode == 0, table.stderr
    assert "Users" in table.stdout and "Segments" in table.stdout and "why" in table.stdout
    assert "user_adapter" in table.stdout and "by example counts" in table.stdout
    assert "Users by rung: user_adapter 4" in table.stdout

    top = _run("plan", "--data", str(data), "--top", "2", home=tmp_path / "h")
    assert top.returncode == 0, top.stderr
    assert "Users (2 of 4, most examples first)" in top.stdout
    assert sum(f"│ u{i} " in top.stdout for i in range(4)) == 2
    assert "Users by rung: few_shot 4 (all users: --top 0 or --json)" in top.stdout

    result = _run("plan", "--data", str(data), "--json", home=tmp_path / "h")
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    assert {u["name"] for u in plan["users"]} == {"u0", "u1", "u2", "u3"}
    assert all(u["rung"] == "few_shot" for u in plan["users"])  # 12 examples each < 100
    assert {s["name"]: s["rung"] for s in plan["segments"]} == {
        "browsers": "zero_shot",
        "buyers": "zero_shot",
    }
    assert plan["thresholds"] == {"few_shot": 1, "segment_adapter": 200, "user_adapter": 100}


def test_plan_errors_are_one_line(tmp_path):
    _one_line_error(_run("plan", "--data", str(tmp_path), home=tmp_path), "No train.jsonl")
    data = write_dataset(tmp_path / "data", n_train=8, n_validation=4)
    _one_line_error(
        _run("plan", "--data", str(data), "--few-shot-min", "0", home=tmp_path),
        "'few_shot' threshold of the ladder must be an int >= 1",
    )


def test_evaluate_compares_the_rungs_in_one_table_and_as_json():
    home = trained_home()
    data = home / "dataset"
    table = _run("evaluate", "--data", str(data), "--max-new-tokens", "8", home=home)
    assert table.returncode == 0, table.stderr
    for text in (
        "perplexity",
        "ROUGE-1",
        "ROUGE-L",
        "users",
        *("zero_shot", "global_adapter", "few_shot", "segment_adapter", "user_adapter"),
    ):
        assert text in table.stdout, text
    assert "global@1" in table.stdout

    result = _run(
        "evaluate", "--data", str(data), "--rungs", "zero_shot,global_adapter", "--no-rouge",
        "--version", "user-u1@1", "--json", home=home,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    scores = json.loads(result.stdout)
    assert list(scores["rungs"]) == ["zero_shot", "global_adapter", "user-u1@1"]
    glob = scores["rungs"]["global_adapter"]
    assert glob["perplexity"] < scores["rungs"]["zero_shot"]["perplexity"]
    assert glob["rouge1"] is None and set(glob["perplexity_by_user"]) <= {"u0", "u1", "u2", "u3"}


def test_evaluate_errors_are_one_line(tmp_path):
    data = write_dataset(tmp_path / "data", n_train=8, n_validation=4)
    _one_line_error(
        _run("evaluate", "--data", str(data), "--rungs", "one_shot", home=tmp_path),
        "Unknown rung(s) one_shot",
    )
    _one_line_error(
        _run("evaluate", "--data", str(data), "--rungs", "global_adapter", home=tmp_path),
        "Cannot evaluate global_adapter: no production version",
    )
