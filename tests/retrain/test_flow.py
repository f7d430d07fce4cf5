"""The retrain flow end to end on the shipped model: skipped without data, resumed after a
crash without redoing a step, blocked by a failing gate, and started as an experiment."""

from __future__ import annotations

import csv
import json

import pytest

from tailorai.errors import RegistryError
from tailorai.projects import ensure_project
from tailorai.retrain import GateResult, RetrainConfig, RetrainFlow
from tailorai.rollout.experiments import Experiments
from tailorai.store import Store
from tailorai.training.registry import Registry


def _chats(samples, path, count=80, offset=0):
    """Support conversations from the shipped Bitext sample, as chat JSONL."""
    with (samples / "Bitext_Sample_Customer_Support_Training_Dataset_4514.csv").open() as f:
        rows = list(csv.DictReader(f))[offset : offset + count]
    with path.open("w") as f:
        for i, row in enumerate(rows):
            messages = [
                {"role": "user", "content": row["instruction"]},
                {"role": "assistant", "content": row["response"][:300]},
            ]
            f.write(json.dumps({"user_id": f"u{i % 7}", "messages": messages}) + "\n")
    return path


@pytest.fixture
def store(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'retrain.db'}")
    ensure_project(store, "shop")
    yield store
    store.close()


def test_too_little_new_data_is_skipped_and_production_untouched(store, tmp_path, samples):
    flow = RetrainFlow(store, project="shop", home=tmp_path)
    run = flow.run()
    assert run.status == "skipped" and "no new data" in run.reason
    assert run.steps["gather"]["status"] == "skipped"
    few = _chats(samples, tmp_path / "few.jsonl", count=3)
    config = RetrainConfig(sources=[str(few)], min_new_examples=20)
    run = RetrainFlow(store, project="shop", home=tmp_path, config=config).run()
    assert run.status == "skipped" and "too little new data" in run.reason
    assert Registry(store, home=tmp_path, project="shop").list() == []


def test_a_crashed_run_resumes_and_a_failed_gate_blocks_the_rollout(store, tmp_path, samples):
    calls = []

    def flaky_gate(candidate, production, context):
        calls.append(candidate.ref)
        if len(calls) == 1:
            raise RuntimeError("the audit service fell over")
        return GateResult("bias", passed=False, figure=0.41, threshold=0.8, evidence="4/5 rule")

    config = RetrainConfig(
        sources=[str(_chats(samples, tmp_path / "new.jsonl"))],
        min_new_examples=10,
        epochs=1,
        audit=False,  # the gates here are the test's own
    )
    flow = RetrainFlow(store, project="shop", home=tmp_path, config=config, gates=[flaky_gate])
    with pytest.raises(RuntimeError, match="fell over"):
        flow.run()
    [crashed] = flow.runs()
    assert crashed.status == "failed" and crashed.steps["gates"]["status"] == "failed"
    trained = crashed.steps["finetune"]["finished_at"]

    resumed = flow.run()  # the same run, from the failed step
    assert resumed.id == crashed.id and resumed.status == "skipped"
    assert "audit gates failed: bias (4/5 rule)" in resumed.reason
    assert resumed.steps["finetune"]["finished_at"] == trained  # not trained again
    registry = Registry(store, home=tmp_path, project="shop")
    assert [v.ref for v in registry.list()] == [resumed.output("finetune")["candidate"]]
    assert registry.production("global") is None  # production never moved
    assert calls == [resumed.output("finetune")["candidate"]] * 2
    blocked = registry.get(resumed.output("finetune")["candidate"])
    assert blocked.audit["passed"] is False and "bias (4/5 rule)" in blocked.audit["reason"]
    with pytest.raises(RegistryError, match="failed its audit"):
        registry.promote(blocked.ref)
    with pytest.raises(RegistryError, match="failed its audit"):
        Experiments(store, registry, project="shop").create("by-hand", blocked.ref)

    flow.gates = [lambda c, p, ctx: GateResult("bias", passed=True, figure=0.95, threshold=0.8)]
    flow.config.sources = [str(_chats(samples, tmp_path / "newer.jsonl", offset=100))]
    done = flow.run()
    assert done.status == "done" and done.id != crashed.id
    held_out = done.output("evaluate")
    assert held_out["candidate"]["held_out_loss"] <= held_out["production"]["held_out_loss"]
    experiment = Experiments(store, registry, project="shop").get(
        done.output("experiment")["experiment"]
    )
    assert experiment.status == "running"
    assert [a["version"] for a in experiment.arms] == [None, done.output("finetune")["candidate"]]
