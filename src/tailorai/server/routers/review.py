"""The review queue over HTTP: `GET /v1/review`, `GET|POST /v1/review/{id}`, `POST /v1/review`.

Every call needs a secret key; the reviewer is the key's name (its prefix when unnamed), so
each reviewer signs in with a key of their own and sees only their project's items. A decision
names the item's `revision` as the reviewer saw it: an unknown item is a 404, a stale revision
a 409.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from tailorai.audit.review import ReviewQueue, StaleReview, UnknownReviewItem
from tailorai.errors import DataError
from tailorai.projects import ApiKey
from tailorai.server.body import JSONRoute
from tailorai.server.deps import Services, get_services, secret_key

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["review"], route_class=JSONRoute)


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: Literal["approve", "reject", "edit"]
    revision: int = Field(..., ge=1, description="The item's revision as you saw it.")
    text: str | None = Field(None, max_length=20_000, description="The edited output.")
    note: str | None = Field(None, max_length=2_000)


class FlagIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    generation_id: str = Field(..., min_length=1, max_length=32)
    source: str = Field(..., min_length=1, max_length=50, description="The check that flags.")
    detail: str = Field("", max_length=2_000)


def _reviewer(key: ApiKey) -> str:
    return key.name or key.prefix


@router.get("/review", summary="Items waiting for (or decided by) a reviewer")
async def list_items(
    status: Literal["pending", "approved", "rejected", "edited", "all"] = "pending",
    limit: int = Query(50, ge=1, le=500),
    key: ApiKey = Depends(secret_key),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    queue = ReviewQueue(services.store, project=key.project_id)
    items = await run_in_threadpool(
        lambda: queue.items(status=None if status == "all" else status, limit=limit)
    )
    return {"items": items}


@router.get("/review/{item_id}", summary="One review item")
async def get_item(
    item_id: int, key: ApiKey = Depends(secret_key), services: Services = Depends(get_services)
) -> dict[str, Any]:
    try:
        return await run_in_threadpool(
            ReviewQueue(services.store, project=key.project_id).get, item_id
        )
    except UnknownReviewItem as exc:
        raise HTTPException(404, str(exc)) from exc


@router.post("/review/{item_id}", summary="Approve, reject or edit an item")
async def decide(
    item_id: int,
    body: DecisionIn,
    key: ApiKey = Depends(secret_key),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    queue = ReviewQueue(services.store, project=key.project_id)
    try:
        return await run_in_threadpool(
            lambda: queue.decide(
                item_id,
                body.action,
                reviewer=_reviewer(key),
                revision=body.revision,
                text=body.text,
                note=body.note,
            )
        )
    except UnknownReviewItem as exc:
        raise HTTPException(404, str(exc)) from exc
    except StaleReview as exc:
        raise HTTPException(409, str(exc)) from exc


@router.post("/review", summary="Flag a generation for review")
async def flag(
    body: FlagIn, key: ApiKey = Depends(secret_key), services: Services = Depends(get_services)
) -> dict[str, Any]:
    queue = ReviewQueue(services.store, project=key.project_id)
    try:
        item_id = await run_in_threadpool(queue.flag, body.generation_id, body.source, body.detail)
    except DataError as exc:
        raise HTTPException(404, str(exc)) from exc
    return await run_in_threadpool(queue.get, item_id)
