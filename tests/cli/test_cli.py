"""The `tailor` command, run as a user runs it: a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer

from tailorai.cli import app

TAILOR = [sys.executable, "-m", "tailorai.cli"]  # the `tailor` script, minus PATH lookups


def _run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*TAILOR, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=os.environ.copy(),
        timeout=600,
    )


def _commands(group: typer.Typer, prefix: tuple[str, ...] = ()):
    for info in group.registered_commands:
        name = info.name or info.callback.__name__.replace("_", "-")
        yield (*prefix, name), info.callback
    for sub in group.registered_groups:
        yield from _commands(sub.typer_instance, (*prefix, sub.name))


def test_every_command_is_documented_with_an_example():
    from typer.testing import CliRunner

    commands = list(_commands(app))
    assert ("data", "prepare") in [c for c, _ in commands]
    runner = CliRunner()
    for path, callback in commands:
        doc = callback.__doc__ or ""
        assert "Example: tailor " in doc, f"`tailor {' '.join(path)}` has no Example in its help"
        # In this process: a subprocess for each of the ~50 commands took 50 s of the suite.
        result = runner.invoke(app, [*path, "--help"], terminal_width=100)
        assert result.exit_code == 0, (path, result.output)
        assert "Example" in result.output, path
    # And once as a user runs it.
    result = _run("users", "forget", "--help")
    assert result.returncode == 0 and "Example: tailor users forget" in result.stdout


def test_version():
    result = _run("--version")
    assert result.returncode == 0 and result.stdout.startswith("tailorai ")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["data", "prepare", "missing.jsonl", "--out", "x"], "Input missing.jsonl does not exist"),
        (
            ["data", "prepare", "{samples}/feedback_form.csv", "--out", "x", "--pii", "blur"],
            "`pii` must be one of",
        ),
        (
            ["data", "prepare", "{samples}/feedback_form.csv", "--out", "x", "--columns", "prompt"],
            "--columns takes OURS=THEIRS",
        ),
        (
            [
                "data",
                "prepare",
                "{samples}/feedback_form.csv",
                "--out",
                "x",
                "--config",
                "nope.yml",
            ],
            "nope.yml does not exist",
        ),
    ],
)
def test_user_errors_are_one_line_without_traceback(tmp_path, samples, args, message):
    result = _run(*[a.format(samples=samples) for a in args], cwd=tmp_path)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr + result.stdout
    assert result.stderr.strip().startswith("Error: ")
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_nothing_usable_is_an_error_not_an_empty_dataset(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"oops": 1}\nnot json\n')
    result = _run("data", "prepare", str(bad), "--out", str(tmp_path / "out"), "--pii", "off")
    assert result.returncode == 1
    assert "Nothing usable remained" in result.stderr
    assert "2 quarantined" in result.stderr
    assert not (tmp_path / "out" / "report.json").exists()


@pytest.mark.slow
def test_prepare_prints_a_summary_and_writes_the_dataset(tmp_path, samples):
    out = tmp_path / "ds"
    result = _run(
        "data",
        "prepare",
        str(samples / "support_chats.jsonl"),
        str(samples / "feedback_form.csv"),
        "--out",
        str(out),
        "--export",
        "openai",
        "--validation-fraction",
        "0.2",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "records in" in result.stdout and "quarantine.jsonl" in result.stdout
    report = json.loads((out / "report.json").read_text())
    assert report["records_quarantined"] == 3
    assert (out / "openai.jsonl").read_text().count("\n") == report["examples"]["train"]


@pytest.mark.slow
def test_prepare_json_output_reads_options_from_config_file(tmp_path, samples):
    config = tmp_path / "tailor.yaml"
    config.write_text("data:\n  pii: 'off'\n  context_turns: 1\n  split_by: conversation\n")
    result = _run(
        "data",
        "prepare",
        str(samples / "support_chats.jsonl"),
        "--out",
        str(tmp_path / "o"),
        "--config",
        str(config),
        "--json",
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["config"]["context_turns"] == 1
    assert report["config"]["split_by"] == "conversation"
    assert report["pii"] == {}
