"""`tailor prompts` and `tailor generate` as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import yaml

from tailorai.prompting.templates import DEFAULT_TEMPLATES

CLI = [sys.executable, "-m", "tailorai.cli"]


def _env(tmp_path):
    return {
        **os.environ,
        "TAILOR_HOME": str(tmp_path / "home"),
        "TAILOR_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
    }


def _run(tmp_path, *args):
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, env=_env(tmp_path), timeout=300
    )


def test_prompts_list_show_and_diff(tmp_path):
    listed = _run(tmp_path, "prompts", "list", "--json")
    rows = json.loads(listed.stdout)
    assert {"task": "email", "segment": "buyers"}.items() <= next(
        r for r in rows if r["task"] == "email" and r["segment"] == "buyers"
    ).items()
    shown = _run(tmp_path, "prompts", "show", "product_description", "--segment", "buyers")
    assert shown.returncode == 0 and "request:" in shown.stdout and "{product}" in shown.stdout
    raw = yaml.safe_load(DEFAULT_TEMPLATES.read_text())
    raw["version"] = 2
    raw["tasks"]["email"]["segments"]["buyers"]["system"] = "Be brief with {brand} buyers."
    newer = tmp_path / "v2.yaml"
    newer.write_text(yaml.safe_dump(raw))
    diffed = _run(tmp_path, "prompts", "diff", str(DEFAULT_TEMPLATES), str(newer))
    assert diffed.returncode == 0, diffed.stderr
    assert "+system: Be brief with {brand} buyers." in diffed.stdout
    assert "email/buyers 2+" in diffed.stdout and diffed.stdout.rstrip().endswith(
        "1 template(s) changed."
    )
    unknown = _run(tmp_path, "prompts", "show", "haiku")
    assert unknown.returncode == 1 and "Known tasks" in unknown.stderr


def test_generate_records_what_it_printed(tmp_path):
    done = _run(
        tmp_path,
        "generate",
        "u1",
        "--task",
        "product_description",
        "-i",
        "product=boots",
        "--max-tokens",
        "8",
        "--json",
    )
    assert done.returncode == 0, done.stderr[-2000:]
    record = json.loads(done.stdout)
    assert record["rung"] == "zero_shot" and record["user_id"] == "u1" and record["output"]
    missing = _run(tmp_path, "generate", "u1", "--task", "product_description")
    assert missing.returncode == 1 and "needs input 'product'" in missing.stderr
    bad = _run(tmp_path, "generate", "--task", "email", "-i", "goal")
    assert bad.returncode == 1 and "--input takes NAME=VALUE" in bad.stderr


def test_variants_build_without_segments_makes_the_default_one(tmp_path):
    done = _run(
        tmp_path,
        "variants",
        "build",
        "--task",
        "product_description",
        "-i",
        "product=boots",
        "--max-tokens",
        "6",
        "--json",
    )
    assert done.returncode == 0, done.stderr[-2000:]
    made = json.loads(done.stdout)
    assert list(made) == ["default"] and made["default"]["rung"] == "zero_shot"
