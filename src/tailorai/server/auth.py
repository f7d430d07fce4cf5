"""Keys on requests: where clients put them, what they grant, and how often they may call.

A key rides in `Authorization: Bearer KEY`, in `Authorization: Basic base64(KEY:)` (as Segment's
libraries send a write key), in `X-Write-Key`, or, for capture only, in the body's `writeKey`
(`navigator.sendBeacon` cannot set headers). Lookups are cached for a few seconds; revoking a key
takes effect within that time. What cannot be a key (the wrong shape, a megabyte of junk) is
refused before it is hashed, looked up or cached, and a client address that keeps sending
unknown keys is slowed down (`failures`): 20 in a burst, then one every two seconds.
"""

from __future__ import annotations

import base64
import binascii
import threading
import time
from collections.abc import Mapping
from typing import Any

from tailorai.projects import ApiKey, authenticate, looks_like_key

__all__ = ["MAX_HEADER_BYTES", "AuthError", "HeaderLimit", "KeyCache", "RateLimiter", "key_from"]

MAX_HEADER_BYTES = 16 * 1024  # all of a request's headers: keys are 50 bytes, cookies small


class AuthError(Exception):
    """401 (no or unknown key), 403 (a public key on a secret route) or 429 (over the rate)."""

    def __init__(self, status: int, detail: str, code: str, retry_after: float = 0.0) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.code = code
        self.retry_after = retry_after


def key_from(headers: Mapping[str, str], body: Any = None) -> str | None:
    authorization = headers.get("authorization", "")
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "bearer" and value:
        return value.strip()
    if scheme.lower() == "basic" and value:
        try:
            return base64.b64decode(value.strip()).decode().split(":", 1)[0]
        except (binascii.Error, UnicodeDecodeError):
            return None
    if headers.get("x-write-key"):
        return headers["x-write-key"].strip()
    if isinstance(body, Mapping):
        found = body.get("writeKey") or body.get("write_key")
        return found if isinstance(found, str) else None
    return None


class KeyCache:
    """`authenticate` with a short memory, so capture does not read the keys table per call."""

    def __init__(self, store: Any, ttl: float = 5.0) -> None:
        self.store = store
        self.ttl = ttl
        self._seen: dict[str, tuple[float, ApiKey | None]] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._seen)

    def _fresh(self, key: str) -> tuple[float, ApiKey | None] | None:
        """The recent lookup of `key` (its time and grant, None for unknown), if any."""
        with self._lock:
            hit = self._seen.get(key)
        return hit if hit is not None and time.monotonic() - hit[0] < self.ttl else None

    def cached(self, key: str) -> ApiKey | None:
        """The key's grant when a recent lookup found it, without a database read."""
        hit = self._fresh(key)
        return hit[1] if hit is not None else None

    def get(self, key: str) -> ApiKey | None:
        if not looks_like_key(key):
            return None  # never cached: the cache holds at most 10,000 keys of 50 bytes
        if (hit := self._fresh(key)) is not None:
            return hit[1]
        found = authenticate(self.store, key)
        with self._lock:
            if len(self._seen) > 10_000:
                self._seen.clear()
            self._seen[key] = (time.monotonic(), found)
        return found


class RateLimiter:
    """A token bucket per key: `rate` calls a second on average, bursts up to `burst`."""

    def __init__(self, rate: float, burst: float | None = None) -> None:
        self.rate = rate
        self.burst = burst if burst is not None else max(rate, 1.0)
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def waiting(self, key: str) -> float:
        """The seconds until `key` may call again (0: now), without using a call."""
        if self.rate <= 0:
            return 0.0
        with self._lock:
            tokens, last = self._buckets.get(key, (self.burst, time.monotonic()))
        tokens = min(self.burst, tokens + (time.monotonic() - last) * self.rate)
        return 0.0 if tokens >= 1 else (1 - tokens) / self.rate

    def check(self, key: str) -> float:
        """0 when the call may go ahead (and it is counted), else the seconds until it could."""
        if self.rate <= 0:
            return 0.0
        now = time.monotonic()
        with self._lock:
            if key not in self._buckets and len(self._buckets) >= 100_000:
                self._buckets.clear()  # one bucket per key or address: bounded, never a leak
            tokens, last = self._buckets.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens >= 1:
                self._buckets[key] = (tokens - 1, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1 - tokens) / self.rate


class HeaderLimit:
    """ASGI middleware: a request whose headers exceed `limit` bytes in all is answered 431
    before any route, key lookup or cache sees it."""

    def __init__(self, app: Any, limit: int = MAX_HEADER_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            size = sum(len(name) + len(value) for name, value in scope["headers"])
            if size > self.limit:
                body = (
                    b'{"detail": "Request headers are over %d KB; send a key of the shape '
                    b'`tailor keys create` makes.", "code": "headers_too_large"}'
                    % (self.limit // 1024)
                )
                await send(
                    {
                        "type": "http.response.start",
                        "status": 431,
                        "headers": [(b"content-type", b"application/json")],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)
