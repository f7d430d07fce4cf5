"""`POST /v1/generate`: personalized content for one user, with its generation id."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Depends, HTTPException
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from tailorai.projects import ApiKey
from tailorai.server.body import JSONRoute
from tailorai.server.deps import Services, backend_failures, get_services, secret_key

__all__ = ["GenerateIn", "router"]

router = APIRouter(prefix="/v1", tags=["generation"], route_class=JSONRoute)


class GenerateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: str | None = Field(None, max_length=255, description="The user, when known.")
    anonymous_id: str | None = Field(None, max_length=255, description="Else the visitor.")
    task: str = Field(..., max_length=100, description="A task of the prompt templates.")
    inputs: dict[str, Any] = Field(default_factory=dict, description="The template's fields.")
    max_tokens: int | None = Field(None, ge=1, le=2048, description="Tokens to generate at most.")
    stop: list[str] = Field(default_factory=list, max_length=4, description="Stop strings.")
    stream: bool = Field(
        False,
        description="Server-sent events: {generation_id, delta} pieces, then {generation_id, "
        "done: true}.",
    )


def _events(generation_id: str, pieces: Iterator[str]) -> Iterator[str]:
    for piece in pieces:
        yield f"data: {json.dumps({'generation_id': generation_id, 'delta': piece})}\n\n"
    yield f"data: {json.dumps({'generation_id': generation_id, 'done': True})}\n\n"


@router.post("/generate", summary="Personalized content for one user")
async def generate(
    body: GenerateIn,
    key: ApiKey = Depends(secret_key),
    services: Services = Depends(get_services),
) -> Any:
    personalizer = await run_in_threadpool(services.personalizer, key.project_id)
    known = sorted(personalizer.templates.tasks)
    if body.task not in known:
        raise HTTPException(404, f"Unknown task {body.task!r}. Known tasks: {', '.join(known)}.")
    call = personalizer.generate_stream if body.stream else personalizer.generate
    options = {"anonymous_id": body.anonymous_id, "max_new_tokens": body.max_tokens}
    with backend_failures():
        made = await run_in_threadpool(
            lambda: call(body.user_id, body.task, body.inputs, stop=body.stop, **options)
        )
    if body.stream:
        generation_id, pieces = made
        return StreamingResponse(_events(generation_id, pieces), media_type="text/event-stream")
    record = made
    return {
        "generation_id": record.id,
        "output": record.output,
        "rung": record.rung,
        "segment": record.segment,
        "model_version": record.model_version,
        "template_version": record.template_version,
        "latency_ms": round(record.latency_ms, 2),
        "usage": {
            "prompt_tokens": record.prompt_tokens,
            "completion_tokens": record.completion_tokens,
        },
    }
