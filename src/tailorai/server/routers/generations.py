"""Generations: `GET /v1/generations/{id}` and `GET /v1/generations`, the records of what was
generated for whom, how."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.concurrency import run_in_threadpool

from tailorai.projects import ApiKey
from tailorai.server.body import JSONRoute
from tailorai.server.deps import Services, get_services, secret_key

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["generation"], route_class=JSONRoute)


@router.get("/generations/{generation_id}", summary="One generation record")
async def get_generation(
    generation_id: str,
    key: ApiKey = Depends(secret_key),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    record = await run_in_threadpool(services.generations.get, key.project_id, generation_id)
    if record is None:
        raise HTTPException(404, f"No generation {generation_id!r} in project {key.project_id!r}.")
    return record.as_dict()


@router.get("/generations", summary="Recent generation records, newest first")
async def list_generations(
    user_id: str | None = Query(None, description="Only this user's."),
    limit: int = Query(50, ge=1, le=500),
    key: ApiKey = Depends(secret_key),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    records = await run_in_threadpool(
        lambda: services.generations.recent(key.project_id, user=user_id, limit=limit)
    )
    return {"generations": [r.as_dict() for r in records]}
