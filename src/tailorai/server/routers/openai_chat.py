"""`POST /v1/chat/completions`, in the OpenAI shape, so OpenAI's own clients work unchanged.

`model` is "tailor" (the router picks the rung's model for the user in `user`), "base" (the
untuned base model), or a registry version ("segment-buyers@2", or a name for its production
version). `stream: true` answers with
server-sent events (`chat.completion.chunk` objects, then `data: [DONE]`). Every answer is a
generation record; its id is the completion's id after "chatcmpl-".
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Depends, HTTPException
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from tailorai.errors import RegistryError
from tailorai.projects import ApiKey
from tailorai.records import TextStream
from tailorai.server.body import JSONRoute
from tailorai.server.deps import Services, backend_failures, get_services, secret_key

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["generation"], route_class=JSONRoute)


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: str = Field(..., pattern="^(system|user|assistant)$")
    content: str = Field(..., max_length=100_000)


class ChatIn(BaseModel):
    model_config = ConfigDict(extra="ignore")  # OpenAI's many other options are accepted

    model: str = Field("tailor", max_length=120)
    messages: list[ChatMessage] = Field(..., min_length=1, max_length=200)
    user: str | None = Field(None, max_length=255, description="The end user: personalizes.")
    max_tokens: int | None = Field(None, ge=1, le=2048)
    max_completion_tokens: int | None = Field(None, ge=1, le=2048)
    temperature: float | None = Field(
        None, ge=0.0, le=2.0, description="0 is greedy; unset: the server's content decoding."
    )
    stop: str | list[str] | None = None
    stream: bool = False
    n: int = Field(1, ge=1, le=1, description="One choice per request.")


def _completion(record: Any, model: str) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-{record.id}",
        "object": "chat.completion",
        "created": int(record.created_at.timestamp()),
        "model": record.model_version or model,
        "choices": [
            {
                "index": 0,
                "finish_reason": record.finish_reason or "stop",
                "message": {"role": "assistant", "content": record.output},
            }
        ],
        "usage": {
            "prompt_tokens": record.prompt_tokens,
            "completion_tokens": record.completion_tokens,
            "total_tokens": record.prompt_tokens + record.completion_tokens,
        },
    }


def _chunks(generation_id: str, model: str, pieces: TextStream) -> Iterator[str]:
    created = int(time.time())

    def chunk(delta: dict[str, str], finish: str | None = None) -> str:
        body = {
            "id": f"chatcmpl-{generation_id}",
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        return f"data: {json.dumps(body)}\n\n"

    yield chunk({"role": "assistant", "content": ""})
    for piece in pieces:
        if piece:
            yield chunk({"content": piece})
    # Known once the last piece is out: "length" when max_tokens cut the reply.
    yield chunk({}, pieces.finish_reason or "stop")
    yield "data: [DONE]\n\n"


@router.post("/chat/completions", summary="Chat completions, OpenAI-compatible")
async def chat_completions(
    body: ChatIn,
    key: ApiKey = Depends(secret_key),
    services: Services = Depends(get_services),
) -> Any:
    personalizer = await run_in_threadpool(services.personalizer, key.project_id)
    stop = [body.stop] if isinstance(body.stop, str) else list(body.stop or [])
    options = {
        "model": body.model,
        "max_new_tokens": body.max_completion_tokens or body.max_tokens,
        "stop": stop[:4],
        "temperature": body.temperature,
    }
    messages = [m.model_dump() for m in body.messages]
    call = personalizer.chat_stream if body.stream else personalizer.chat
    try:
        with backend_failures():
            made = await run_in_threadpool(lambda: call(body.user, messages, **options))
    except RegistryError as exc:
        raise HTTPException(404, f"Unknown model {body.model!r}: {exc}") from exc
    if body.stream:
        generation_id, pieces = made
        return StreamingResponse(
            _chunks(generation_id, body.model, pieces), media_type="text/event-stream"
        )
    record = made
    return _completion(record, body.model)
