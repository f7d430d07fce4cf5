"""`GET /v1/experiments` and `GET /v1/experiments/{name}`: rollouts, their arms and decisions."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException
from fastapi.concurrency import run_in_threadpool

from tailorai.errors import ConfigError
from tailorai.projects import ApiKey
from tailorai.server.body import JSONRoute
from tailorai.server.deps import Services, get_services, secret_key

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["experiments"], route_class=JSONRoute)


def _experiments(services: Services, project: str) -> Any:
    from tailorai.rollout.experiments import Experiments

    return Experiments(services.store, project=project)


@router.get("/experiments", summary="Experiments, newest first")
async def list_experiments(
    key: ApiKey = Depends(secret_key), services: Services = Depends(get_services)
) -> dict[str, Any]:
    found = await run_in_threadpool(lambda: _experiments(services, key.project_id).list())
    return {"experiments": [e.as_dict() for e in found]}


@router.get("/experiments/{name}", summary="One experiment: arms, figures, decision")
async def get_experiment(
    name: str, key: ApiKey = Depends(secret_key), services: Services = Depends(get_services)
) -> dict[str, Any]:
    try:
        found = await run_in_threadpool(lambda: _experiments(services, key.project_id).get(name))
    except ConfigError as exc:
        raise HTTPException(404, str(exc)) from exc
    return found.as_dict()
