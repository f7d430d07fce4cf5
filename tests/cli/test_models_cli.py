"""`tailor models ...`, run as a user runs it: a real subprocess on a real registry."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tailorai.cli.models import models_app
from tailorai.store import Store
from tailorai.training.registry import Registry
from tests.training.test_registry import TEMPLATE, build_artifacts

TAILOR = [sys.executable, "-m", "tailorai.cli"]


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory, tokenizer) -> dict[str, Path]:
    return build_artifacts(tmp_path_factory.mktemp("artifacts"), tokenizer)


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    """The environment of a `tailor` process with its own database and TAILOR_HOME."""
    return {
        **os.environ,
        "TAILOR_HOME": str(tmp_path / "home"),
        "TAILOR_DATABASE_URL": f"sqlite:///{tmp_path / 'tailor.db'}",
    }


@pytest.fixture
def registry(env, artifacts):
    """support@1, support@2 (global, LoRA), full@1 (segment:vip, a full fine-tune)."""
    store = Store(env["TAILOR_DATABASE_URL"])
    registry = Registry(store, home=Path(env["TAILOR_HOME"]))
    for metrics in ({"eval_loss": 2.5}, {"eval_loss": 1.75}):
        registry.register(
            "support",
            artifacts["lora"],
            scope="global",
            method="lora",
            base_model=str(artifacts["base"]),
            dataset_id="d5e7",
            config={"lora_r": 4},
            metrics=metrics,
            chat_template=TEMPLATE,
            lineage={"dataset_path": str(artifacts["dataset"])},
        )
    registry.register(
        "full",
        artifacts["full"],
        scope="segment:vip",
        method="full",
        base_model=str(artifacts["base"]),
    )
    yield registry
    store.close()


def _tailor(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*TAILOR, "models", *args], capture_output=True, text=True, env=env, timeout=600
    )


def _ok(env: dict[str, str], *args: str) -> str:
    result = _tailor(env, *args)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_every_models_command_has_an_example():
    for info in models_app.registered_commands:
        assert "Example: tailor models " in (info.callback.__doc__ or ""), info.name


def test_list_as_json_and_as_a_table(env, registry):
    listed = json.loads(_ok(env, "list", "--json"))
    assert [v["ref"] for v in listed] == ["full@1", "support@1", "support@2"]
    assert listed[1]["metrics"] == {"eval_loss": 2.5}
    assert listed[1]["lineage"]["dataset_path"]
    only = json.loads(_ok(env, "list", "--json", "--scope", "segment:vip"))
    assert [v["ref"] for v in only] == ["full@1"]
    table = _ok(env, "list")
    assert "support@2" in table and "eval_loss 1.75" in table and "candidate" in table
    assert "No model versions match" in _ok(env, "list", "--stage", "production")


def test_show_as_json_and_as_a_table(env, registry):
    shown = json.loads(_ok(env, "show", "support@1", "--json"))
    assert shown == registry.get("support@1").as_dict()
    assert json.loads(_ok(env, "show", "support", "--json"))["ref"] == "support@2"  # latest
    table = _ok(env, "show", "full@1")
    assert "Model version full@1" in table and "segment:vip" in table
    assert "code_version" in table


def test_promote_and_rollback(env, registry):
    assert _ok(env, "promote", "support@1").strip() == (
        "support@1 is now in production for scope global."
    )
    assert _ok(env, "promote", "support@2").strip() == (
        "support@2 is now in production for scope global; support@1 is archived."
    )
    assert "already in production" in _ok(env, "promote", "support@2")
    assert _ok(env, "rollback", "global").strip() == (
        "Rolled back scope global: support@2 is archived, support@1 is in production again."
    )
    assert registry.production("global").ref == "support@1"
    _ok(env, "promote", "support@2")
    assert "support@1 is in production again" in _ok(env, "rollback", "--name", "support")


def test_export_peft_and_openai(env, registry, tmp_path):
    out = tmp_path / "adapter"
    assert _ok(env, "export", "support@2", "--out", str(out)).strip() == (
        f"Exported support@2 as peft to {out}"
    )
    assert (out / "adapter_config.json").is_file()
    assert (out / "adapter_model.safetensors").is_file()
    jsonl = tmp_path / "train.jsonl"
    _ok(env, "export", "support", "--format", "openai", "--out", str(jsonl))
    assert all("messages" in json.loads(line) for line in jsonl.read_text().splitlines())


@pytest.mark.slow
def test_export_merged(env, registry, tmp_path):
    from transformers import AutoModelForCausalLM

    out = tmp_path / "merged"
    _ok(env, "export", "support@1", "-f", "merged", "-o", str(out))
    assert AutoModelForCausalLM.from_pretrained(out).config.hidden_size == 32


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["show", "nope"], "No model named 'nope'. Registered: full (1 version), support (2"),
        (["show", "support@9"], "support@9 does not exist. Versions of 'support': support@1"),
        (["show", "support@x"], "'support@x' is not a model reference"),
        (["promote", "support@7"], "support@7 does not exist"),
        (["rollback", "global"], "Scope 'global' has no version in production"),
        (["rollback"], "Pass either a scope"),
        (["list", "--stage", "live"], "Stage 'live' is not one of candidate"),
        (["export", "full@1", "--out", "x"], "full fine-tune"),
        (["export", "support@1", "--out", "x", "--format", "gguf"], "'gguf' is not one of"),
    ],
)
def test_errors_are_one_line_without_traceback(env, registry, args, message):
    result = _tailor(env, *args)
    assert result.returncode == 1, result.stdout
    assert "Traceback" not in result.stderr + result.stdout
    assert result.stderr.strip().startswith("Error: ")
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_rollback_of_the_first_promotion_is_refused(env, registry):
    _ok(env, "promote", "support@1")
    result = _tailor(env, "rollback", "global")
    assert result.returncode == 1
    assert "support@1 was the first version promoted in scope 'global'" in result.stderr
    assert registry.production("global").ref == "support@1"
