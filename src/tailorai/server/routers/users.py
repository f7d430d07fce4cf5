"""Users: `GET /v1/users/{id}` (features, segment, recent events), `GET /v1/users/{id}/export`
(everything stored about them) and `DELETE /v1/users/{id}` (forget them: `tailorai.privacy`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool

from tailorai.projects import ApiKey
from tailorai.segments import user_profile
from tailorai.server.body import JSONRoute
from tailorai.server.deps import Services, get_services, secret_key

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["users"], route_class=JSONRoute)


@router.get("/users/{user_id:path}/export", summary="Everything stored about a user, as JSON")
async def export(
    user_id: str,
    key: ApiKey = Depends(secret_key),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    from tailorai.privacy import export_user

    return await run_in_threadpool(export_user, services.store, key.project_id, user_id)


@router.delete("/users/{user_id:path}", summary="Forget a user: erase all that is stored of them")
async def forget(
    user_id: str,
    request: Request,
    key: ApiKey = Depends(secret_key),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    from tailorai.privacy import forget_user

    home = request.app.state.settings.home
    report = await run_in_threadpool(
        lambda: forget_user(services.store, key.project_id, user_id, home=home)
    )
    return report.as_dict()


@router.get("/users/{user_id:path}", summary="A user's features, segment and recent events")
async def get_user(
    user_id: str,
    recent: int = Query(20, ge=0, le=500, description="How many recent events to include."),
    key: ApiKey = Depends(secret_key),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    profile = await run_in_threadpool(
        user_profile, services.features, services.stream, key.project_id, user_id, recent
    )
    if profile is None:
        raise HTTPException(404, f"No user {user_id!r} in project {key.project_id!r}.")
    return profile
