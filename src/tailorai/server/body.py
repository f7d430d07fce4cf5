"""Reading a request body the way capture clients send it.

`navigator.sendBeacon` sends `text/plain` (no CORS preflight), SDKs send `application/json`,
some gzip it: any content type is read as JSON, gzip is undone, and the size limit is enforced
while reading, before and after decompression, so a large or zip-bomb body costs little.

`JSONRoute` holds every other JSON body of the API to the same numbers: NaN, Infinity, `1e400`,
integers outside 64 bits and nesting past 32 levels are a 400 naming where, before FastAPI's own
parsing would let them through as non-finite floats or huge integers.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

from tailorai.events.schema import InvalidEvent, check_values, loads

__all__ = ["BodyError", "JSONRoute", "read_json"]


class BodyError(Exception):
    """A body that cannot be read: `status` is 400 (malformed) or 413 (too large)."""

    def __init__(self, status: int, detail: str, code: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.code = code


def _too_large(limit: int) -> BodyError:
    return BodyError(
        413, f"Body over {limit // 1024} KB. Send fewer events per batch.", "body_too_large"
    )


async def read_json(request: Request, limit: int) -> tuple[Any, int]:
    """The parsed JSON body and its size in bytes (after gzip)."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    raw = b"".join(chunks)
    encoding = request.headers.get("content-encoding", "identity").lower()
    if encoding == "gzip":
        inflate = zlib.decompressobj(wbits=31)
        try:
            raw = inflate.decompress(raw, limit + 1)
        except zlib.error as exc:
            raise BodyError(400, f"Body is not valid gzip: {exc}.", "bad_gzip") from None
        if len(raw) > limit or inflate.unconsumed_tail:
            raise _too_large(limit)
    elif encoding not in ("identity", ""):
        raise BodyError(
            400, f"Content-Encoding {encoding!r} is not supported: send gzip or none.", "encoding"
        )
    if not raw.strip():
        raise BodyError(400, "Body is empty: send a JSON object.", "empty_body")
    try:
        # Numbers no column can hold (NaN, 1e400, 10**400) come back as markers: the event that
        # holds one is refused by `parse_event`, not every event of its batch.
        return loads(raw), len(raw)
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, nested too deep
        raise BodyError(400, f"Body is not valid JSON: {exc}.", "bad_json") from None


class JSONRoute(APIRoute):
    """A route whose JSON body may hold only numbers a database stores as sent (see above)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def checked(request: Request) -> Response:
            raw = await request.body()  # kept by the request: FastAPI reads it again for free
            if raw.strip():
                try:
                    parsed = loads(raw)
                except ValueError:
                    parsed = None  # not JSON: FastAPI says so in its own words
                try:
                    check_values(parsed, where="body")
                except InvalidEvent as exc:
                    raise BodyError(400, f"Invalid body: {exc}.", "invalid_number") from None
            return await handler(request)

        return checked
