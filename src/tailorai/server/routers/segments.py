"""Segments: `GET /v1/segments`, the production segmentation with its segments' sizes now."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException
from fastapi.concurrency import run_in_threadpool

from tailorai.projects import ApiKey
from tailorai.server.body import JSONRoute
from tailorai.server.deps import Services, get_services, secret_key

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["segments"], route_class=JSONRoute)


def _segments(services: Services, project_id: str) -> dict[str, Any] | None:
    version = services.segmentations.production(project_id)
    if version is None:
        return None
    sizes = services.features.segment_sizes(project_id)
    profiles = {p.get("name"): p for p in version.summary.get("profiles", [])}
    return {
        "version": version.version,
        "method": version.method,
        "fitted_on_users": version.users,
        "created_at": version.created_at.isoformat(),
        "selection": version.summary.get("selection", []),
        "segments": [
            {"name": name, "users_now": sizes.get(name, 0), "profile": profiles.get(name)}
            for name in version.names.values()
        ],
    }


@router.get("/segments", summary="The production segmentation and its segments")
async def get_segments(
    key: ApiKey = Depends(secret_key), services: Services = Depends(get_services)
) -> dict[str, Any]:
    found = await run_in_threadpool(_segments, services, key.project_id)
    if found is None:
        raise HTTPException(
            404,
            f"Project {key.project_id!r} has no segmentation in production: run `tailor "
            f"segments fit --project {key.project_id} --promote`.",
        )
    return found
