"""Event capture: `/v1/track`, `/v1/page`, `/v1/identify`, `/v1/events` and `/v1/batch`; and
`/v1/consent`, where a user or browser opts out of tracking (or back in).

A public (write) key is enough. The answer is 200 only once the events are stored; a resent
`message_id` is acknowledged as a duplicate and stored once. In a batch, good events are stored
and bad ones reported by index with the reason; only a batch with no good event is a 400. The
events of a user or browser that opted out are refused, by index, and never stored.
"""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from tailorai.events import MAX_BATCH_BYTES, MAX_EVENT_BYTES, EventIn, InvalidEvent, parse_event
from tailorai.server.body import BodyError, read_json
from tailorai.server.deps import Services, authorize, client_of, get_services

__all__ = ["router", "script_router"]

router = APIRouter(prefix="/v1", tags=["capture"])
script_router = APIRouter(tags=["capture"])
_TRACKER = Path(__file__).resolve().parents[2] / "events" / "tracker.js"

_EVENT_SCHEMA = EventIn.model_json_schema(
    by_alias=False, ref_template="#/components/schemas/{model}"
)
_ONE = {"requestBody": {"content": {"application/json": {"schema": _EVENT_SCHEMA}}}}
_MANY = {
    "requestBody": {
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["batch"],
                    "properties": {
                        "batch": {"type": "array", "items": _EVENT_SCHEMA},
                        "writeKey": {"type": "string"},
                        "sentAt": {"type": "string", "format": "date-time"},
                    },
                }
            }
        }
    }
}


class OptOuts:
    """Who opted out of tracking, per project, read from the store at most every `ttl` seconds
    (and at once after this server records a change), so capture pays no query per event."""

    def __init__(self, store: Any, ttl: float = 5.0) -> None:
        self.store = store
        self.ttl = ttl
        self._sets: dict[str, tuple[float, frozenset[str]]] = {}
        self._lock = threading.Lock()

    def of(self, project: str) -> frozenset[str]:
        from sqlalchemy import select

        from tailorai.store.tables import ConsentRow

        hit = self._sets.get(project)
        if hit is not None and time.monotonic() - hit[0] < self.ttl:
            return hit[1]
        with self.store.session() as s:
            found = frozenset(
                s.scalars(select(ConsentRow.user_key).where(ConsentRow.project_id == project))
            )
        with self._lock:
            self._sets[project] = (time.monotonic(), found)
        return found

    def changed(self, project: str) -> None:
        with self._lock:
            self._sets.pop(project, None)


def _opted_out(services: Services, project: str, event: Any) -> bool:
    out = services.consent.of(project)
    return bool(out) and (event.user_id in out or event.anonymous_id in out)


_OPTED_OUT = "this user or browser opted out of tracking (POST /v1/consent to opt back in)"


def _with_sent_at(raw: Any, sent_at: Any) -> Any:
    if sent_at is None or not isinstance(raw, dict) or "sentAt" in raw or "sent_at" in raw:
        return raw
    return {**raw, "sentAt": sent_at}


async def _one(request: Request, services: Services, default_type: str | None) -> JSONResponse:
    body, size = await read_json(request, MAX_EVENT_BYTES)
    key = authorize(services, request.headers, body, secret=False, client=client_of(request))
    try:
        event = parse_event(body, datetime.now(UTC), default_type=default_type, size=size)
    except InvalidEvent as exc:
        raise BodyError(400, f"Invalid event: {exc}.", "invalid_event") from None
    if _opted_out(services, key.project_id, event):
        raise BodyError(403, f"Event refused: {_OPTED_OUT}.", "opted_out")
    result = await asyncio.wrap_future(services.collector.submit(key.project_id, [event]))
    return JSONResponse(
        {
            "ok": True,
            "message_id": event.message_id,
            "stored": result.stored,
            "duplicates": result.duplicates,
            "flags": event.flags,
        }
    )


@router.post("/track", openapi_extra=_ONE, summary="Record an action")
async def track(request: Request, services: Services = Depends(get_services)) -> JSONResponse:
    return await _one(request, services, "track")


@router.post("/page", openapi_extra=_ONE, summary="Record a page view")
async def page(request: Request, services: Services = Depends(get_services)) -> JSONResponse:
    return await _one(request, services, "page")


@router.post("/identify", openapi_extra=_ONE, summary="Say who a user is")
async def identify(request: Request, services: Services = Depends(get_services)) -> JSONResponse:
    return await _one(request, services, "identify")


@router.post("/events", openapi_extra=_ONE, summary="Record an event of any type")
async def events(request: Request, services: Services = Depends(get_services)) -> JSONResponse:
    return await _one(request, services, None)


@router.post("/batch", openapi_extra=_MANY, summary="Record many events at once")
async def batch(request: Request, services: Services = Depends(get_services)) -> JSONResponse:
    body, size = await read_json(request, MAX_BATCH_BYTES)
    key = authorize(services, request.headers, body, secret=False, client=client_of(request))
    items = body.get("batch") if isinstance(body, dict) else body
    if not isinstance(items, list):
        raise BodyError(
            400, 'A batch is {"batch": [event, ...]} or a JSON list of events.', "invalid_batch"
        )
    sent_at = body.get("sentAt", body.get("sent_at")) if isinstance(body, dict) else None
    received_at = datetime.now(UTC)
    # No event can be over the per-event limit when the whole body is under it.
    measure = None if size > MAX_EVENT_BYTES else 0
    good, rejected = [], []
    for index, raw in enumerate(items):
        try:
            event = parse_event(_with_sent_at(raw, sent_at), received_at, size=measure)
        except InvalidEvent as exc:
            rejected.append({"index": index, "detail": str(exc)})
            continue
        if _opted_out(services, key.project_id, event):
            rejected.append({"index": index, "detail": _OPTED_OUT})
        else:
            good.append(event)
    result = await asyncio.wrap_future(services.collector.submit(key.project_id, good))
    answer = {
        "ok": not rejected,
        "received": len(items),
        "stored": result.stored,
        "duplicates": result.duplicates,
        "rejected": rejected,
    }
    return JSONResponse(answer, status_code=400 if rejected and not good else 200)


@router.post("/consent", summary="Opt a user or browser out of tracking, or back in")
async def consent(request: Request, services: Services = Depends(get_services)) -> JSONResponse:
    """`{"userId": ..., "anonymousId": ..., "optedOut": true}`: from now on capture refuses
    the events of that user id and anonymous id (`optedOut: false` lifts it)."""
    from tailorai.privacy import set_consent

    body, _ = await read_json(request, MAX_EVENT_BYTES)
    key = authorize(services, request.headers, body, secret=False, client=client_of(request))
    if not isinstance(body, dict):
        raise BodyError(400, 'Consent is {"userId" or "anonymousId", "optedOut": bool}.', "consent")
    ids = [body.get(n) for n in ("userId", "user_id", "anonymousId", "anonymous_id")]
    keys = [i for i in ids if isinstance(i, str) and 0 < len(i) <= 255]
    opted = body.get("optedOut", body.get("opted_out"))
    if not keys or not isinstance(opted, bool):
        raise BodyError(
            400,
            'Consent needs "userId" or "anonymousId" (strings) and "optedOut": true or false.',
            "consent",
        )
    await asyncio.to_thread(set_consent, services.store, key.project_id, keys, opted_out=opted)
    services.consent.changed(key.project_id)
    return JSONResponse({"ok": True, "opted_out": opted, "ids": keys})


@script_router.get("/tracker.js", summary="The browser tracker", response_class=Response)
def tracker_js() -> Response:
    return Response(
        _TRACKER.read_bytes(),
        media_type="application/javascript; charset=utf-8",
        headers={"Cache-Control": "public, max-age=300"},
    )
