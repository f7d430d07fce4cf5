"""Feedback over HTTP: `POST /v1/feedback` and `GET /v1/feedback`.

A public key may send feedback (pages collect it, as they send events); reading it needs a
secret key. A retry with the same `idempotency_key` (or `Idempotency-Key` header) is stored
once; feedback on a generation the project does not have is a 404 and stores nothing.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from tailorai.feedback import FeedbackLog, UnknownGeneration
from tailorai.projects import ApiKey
from tailorai.server.body import JSONRoute
from tailorai.server.deps import Services, authorize, client_of, get_services, secret_key

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["feedback"], route_class=JSONRoute)


class FeedbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    generation_id: str = Field(..., min_length=1, max_length=32)
    thumbs: Literal["up", "down"] | None = None
    rating: int | None = Field(None, ge=1, le=5, description="1-5 stars.")
    comment: str | None = Field(None, max_length=20_000)
    correction: str | None = Field(
        None, max_length=20_000, description="The output as the user would have written it."
    )
    idempotency_key: str | None = Field(None, max_length=100)


@router.post("/feedback", summary="Say what a user thought of a generation")
async def post_feedback(
    body: FeedbackIn,
    request: Request,
    services: Services = Depends(get_services),
    idempotency_key: str | None = Header(None, max_length=100),
) -> dict[str, Any]:
    key = authorize(services, request.headers, secret=False, client=client_of(request))
    if not any(v is not None for v in (body.thumbs, body.rating, body.comment, body.correction)):
        raise HTTPException(
            422, "No feedback given: send at least one of thumbs, rating, comment or correction."
        )
    log = FeedbackLog(services.store)
    values = body.model_dump(exclude={"generation_id", "idempotency_key"}, exclude_none=True)
    try:
        row, created = await run_in_threadpool(
            lambda: log.add(
                key.project_id,
                body.generation_id,
                key=body.idempotency_key or idempotency_key,
                source="api",
                **values,
            )
        )
    except UnknownGeneration as exc:
        raise HTTPException(404, str(exc)) from exc
    row["created_at"] = row["created_at"].isoformat()
    return {"stored": created, "feedback": row}


@router.get("/feedback", summary="Feedback with the generation, model, prompt and arm it judges")
async def get_feedback(
    generation_id: str | None = Query(None, max_length=32),
    user_id: str | None = Query(None, max_length=255),
    version: str | None = Query(None, max_length=120, description="A model version ref."),
    limit: int = Query(100, ge=1, le=1000),
    key: ApiKey = Depends(secret_key),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    from tailorai.feedback import Rewards

    await run_in_threadpool(Rewards(services.store).refresh, key.project_id)
    rows = await run_in_threadpool(
        lambda: FeedbackLog(services.store).find(
            key.project_id,
            generation_id=generation_id,
            user_id=user_id,
            version=version,
            limit=limit,
        )
    )
    return {"feedback": rows}
