"""The retrain flow as a Prefect flow: each step a task with retries, the run in Prefect's UI.

    from tailorai.retrain.prefect_flow import retrain_flow
    retrain_flow(project="shop", sources=["new_chats.jsonl"])

The steps are the same `RetrainFlow` methods; Prefect adds retries (a step that raises is tried
again `retries` times before the run fails, and a failed run resumes at that step next time)
and the record of runs in its UI. With no `PREFECT_API_URL`, Prefect runs it on a temporary
local server; `tailor retrain --every 6h` calls it once per tick.
"""

from __future__ import annotations

from typing import Any

from tailorai.errors import MissingDependency

__all__ = ["available", "retrain_flow"]


def available() -> bool:
    try:
        import prefect  # noqa: F401
    except ImportError:
        return False
    return True


def retrain_flow(*, retries: int = 2, flow: Any = None, **options: Any) -> dict[str, Any]:
    """One tick under Prefect: running experiments evaluated, then, when due, the retrain
    flow with each step a task retried `retries` times. `options`: project, min_feedback,
    reward_drop, and `RetrainConfig` fields (scope, sources, ...); or a ready `flow`
    (a `RetrainFlow`, with its own store, project and gates)."""
    try:
        from prefect import flow as prefect_flow
        from prefect import task
    except ImportError as exc:
        raise MissingDependency("Prefect", 'pip install "tailorai[prefect]"') from exc

    from tailorai.retrain.flow import STEPS, RetrainConfig, RetrainFlow
    from tailorai.retrain.schedule import evaluate_experiments, triggered
    from tailorai.settings import get_settings
    from tailorai.store import Store

    thresholds = {k: options.pop(k, None) for k in ("min_feedback", "reward_drop")}
    if flow is not None:
        retrain, own_store = flow, None
    else:
        settings = get_settings()
        project = options.pop("project", None) or settings.project
        own_store = Store(settings.database_url)
        retrain = RetrainFlow(
            own_store,
            project=project,
            home=settings.home,
            config=RetrainConfig.from_dict(options),
        )
    store, project = retrain.store, retrain.project

    @task(name="evaluate-experiments", retries=retries, retry_delay_seconds=1)
    def experiments() -> dict[str, str]:
        return evaluate_experiments(retrain)

    @task(retries=retries, retry_delay_seconds=1)
    def step(run: Any, name: str) -> str:
        return retrain.step(run, name)

    @prefect_flow(name="tailorai-retrain")
    def tailorai_retrain() -> dict[str, Any]:
        decisions = experiments()
        due, why = triggered(store, project, retrain.last_finished(), **thresholds)
        if not due:
            return {"experiments": decisions, "due": False, "why": why, "run": None}
        run = retrain.begin(why)
        for name in STEPS:
            if step.with_options(name=f"retrain-{name}")(run, name) == "skipped":
                break
        else:
            run = retrain.finish(run)
        return {"experiments": decisions, "due": True, "why": why, "run": run.as_dict()}

    try:
        return tailorai_retrain()
    finally:
        if own_store is not None:
            own_store.close()
