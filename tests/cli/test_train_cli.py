"""`tailor train` as a user runs it, alone and as two CPU processes under torchrun, and with
--method dpo on preference pairs."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest

from tests.training.conftest import tiny_llama, write_dataset
from tests.training.test_dpo import write_preferences


def _env(tmp_path) -> dict[str, str]:
    env = os.environ.copy()
    env["TAILOR_HOME"] = str(tmp_path / "home")
    env["TAILOR_DATABASE_URL"] = f"sqlite:///{tmp_path / 'home' / 'tailor.db'}"
    return env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_train_registers_a_version_whose_loss_went_down(tmp_path):
    data = write_dataset(tmp_path / "data")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "tailorai.cli",
            "train",
            "--data",
            str(data),
            "--epochs",
            "2",
            "--learning-rate",
            "0.003",
            "--json",
        ],
        capture_output=True,
        text=True,
        env=_env(tmp_path),
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    [version] = json.loads(result.stdout)
    assert version["ref"] == "global@1" and version["stage"] == "candidate"
    assert version["metrics"]["best_val_loss"] < version["metrics"]["initial_val_loss"]
    assert "few-shot" in result.stderr  # 48 examples: the warning names the better route


def test_a_run_that_only_got_worse_is_not_registered(tmp_path):
    data = write_dataset(tmp_path / "data", n_train=16, n_validation=8, contradict=True)
    env = _env(tmp_path)
    cli = [sys.executable, "-m", "tailorai.cli"]
    result = subprocess.run(
        [*cli, "train", "--data", str(data), "--method", "full", "--learning-rate", "0.05"],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert result.returncode == 1, result.stderr
    assert "Error: No version registered. global: not registered" in result.stderr
    assert "Lower --learning-rate" in result.stderr and "Traceback" not in result.stderr
    listed = subprocess.run(
        [*cli, "models", "list", "--json"], capture_output=True, text=True, env=env, timeout=120
    )
    assert json.loads(listed.stdout) == []


def test_train_without_data_is_one_clear_error(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "tailorai.cli", "train", "--data", str(tmp_path / "none")],
        capture_output=True,
        text=True,
        env=_env(tmp_path),
        timeout=120,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("Error: No train.jsonl")
    assert "Traceback" not in result.stderr


def test_dpo_on_preference_pairs_registers_a_dpo_version(tmp_path, tokenizer):
    base = tmp_path / "base"
    tiny_llama().save_pretrained(base)
    tokenizer.save_pretrained(base)
    data = write_preferences(tmp_path / "feedback", extra_lines=["{oops"])
    cli = [sys.executable, "-m", "tailorai.cli", "train", "--method", "dpo", "--base", str(base)]
    result = subprocess.run(
        [*cli, "--data", str(data), "--epochs", "2", "--learning-rate", "0.005", "--json"],
        capture_output=True,
        text=True,
        env=_env(tmp_path),
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    [version] = json.loads(result.stdout)
    assert (version["ref"], version["method"]) == ("global@1", "dpo")
    assert version["metrics"]["best_val_loss"] < version["metrics"]["initial_val_loss"]
    assert version["lineage"]["preference_pairs"] == 40
    assert "Warning: 1 line(s) of" in result.stderr and "line 41 (not valid JSON" in result.stderr

    few = subprocess.run(
        [*cli, "--data", str(data), "--min-pairs", "100"],
        capture_output=True,
        text=True,
        env=_env(tmp_path),
        timeout=120,
    )
    assert few.returncode == 1 and "Traceback" not in few.stderr
    assert "Error: Only 40 preference pair(s)" in few.stderr and "at least 100" in few.stderr


@pytest.mark.slow
def test_two_cpu_processes_under_torchrun_train_the_same_kind_of_model(tmp_path):
    data = write_dataset(tmp_path / "data")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc_per_node",
            "2",
            "--master_addr",
            "127.0.0.1",
            "--master_port",
            str(_free_port()),
            "-m",
            "tailorai.cli",
            "train",
            "--data",
            str(data),
            "--epochs",
            "2",
            "--learning-rate",
            "0.003",
            "--json",
        ],
        capture_output=True,
        text=True,
        env=_env(tmp_path),
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    [version] = json.loads(result.stdout)  # only the main process registers and prints
    assert version["ref"] == "global@1"
    assert version["metrics"]["best_val_loss"] < version["metrics"]["initial_val_loss"]
