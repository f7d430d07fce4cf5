"""The retrain flow under Prefect, on its temporary local server (no Prefect server needed):
each step a task, retried when it fails."""

from __future__ import annotations

import os

import pytest

from tailorai.projects import ensure_project
from tailorai.retrain import RetrainFlow
from tailorai.store import Store

prefect = pytest.importorskip("prefect", reason="Prefect is not installed (pip install prefect)")


@pytest.mark.slow
def test_a_failing_step_is_retried_by_prefect_and_the_run_recorded(tmp_path, monkeypatch):
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "prefect"))
    monkeypatch.setenv("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    monkeypatch.setenv("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
    monkeypatch.setenv("PREFECT_LOGGING_LEVEL", "ERROR")
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    from tailorai.retrain.prefect_flow import retrain_flow

    store = Store(f"sqlite:///{tmp_path / 'prefect.db'}")
    ensure_project(store, "shop")
    attempts = []

    class Flaky(RetrainFlow):
        def _gather(self, run):
            attempts.append(run.id)
            if len(attempts) == 1:
                raise ConnectionError("the file share blinked")
            return super()._gather(run)

    from prefect.testing.utilities import prefect_test_harness

    flow = Flaky(store, project="shop", home=tmp_path)
    with prefect_test_harness(server_startup_timeout=180):  # started and stopped here
        result = retrain_flow(flow=flow, retries=2)
    assert len(attempts) == 2 and attempts[0] == attempts[1]  # one run, its step retried
    assert result["due"] and result["run"]["status"] == "skipped"
    assert "no new data" in result["run"]["reason"]
    [run] = flow.runs()
    assert run.steps["gather"]["status"] == "skipped" and "error" not in run.steps["gather"]
    store.close()
    assert os.environ["PREFECT_HOME"] == str(tmp_path / "prefect")
