"""`GET /v1/variants/{name}?user_id=`: the user's segment's pre-generated content.

A public key is enough: pages and CMSs pull it to show, as they would any content.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool

from tailorai.server.body import JSONRoute
from tailorai.server.deps import Services, authorize, client_of, get_services

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["generation"], route_class=JSONRoute)


@router.get("/variants/{name}", summary="Pre-generated content for a user's segment")
async def get_variant(
    name: str,
    request: Request,
    user_id: str | None = Query(None, max_length=255, description="The user (none: default)."),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    key = authorize(services, request.headers, secret=False, client=client_of(request))
    found = await run_in_threadpool(services.variants.get, key.project_id, name, user_id)
    if found is None:
        built = await run_in_threadpool(services.variants.names, key.project_id)
        raise HTTPException(
            404,
            f"No variants named {name!r}; built: {', '.join(built) or 'none'}. Build them with "
            f"`tailor variants build --task TASK`.",
        )
    return found
