"""Keys on requests: where clients put them, what they grant, and how often they may call.

A key rides in `Authorization: Bearer KEY`, in `Authorization: Basic base64(KEY:)` (as Segment's
libraries send a write key), in `X-Write-Key`, or, for capture only, in the body's `writeKey`
(`navigator.sendBeacon` cannot set headers). Lookups are cached for a few seconds; revoking a key
takes effect within that time.
"""

from __future__ import annotations

import base64
import binascii
import threading
import time
from collections.abc import Mapping
from typing import Any

from tailorai.projects import ApiKey, authenticate

__all__ = ["AuthError", "KeyCache", "RateLimiter", "key_from"]


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

    def get(self, key: str) -> ApiKey | None:
        now = time.monotonic()
        with self._lock:
            hit = self._seen.get(key)
        if hit is not None and now - hit[0] < self.ttl:
            return hit[1]
        found = authenticate(self.store, key)
        with self._lock:
            if len(self._seen) > 10_000:
                self._seen.clear()
            self._seen[key] = (now, found)
        return found


class RateLimiter:
    """A token bucket per key: `rate` calls a second on average, bursts up to `burst`."""

    def __init__(self, rate: float, burst: float | None = None) -> None:
        self.rate = rate
        self.burst = burst if burst is not None else max(rate, 1.0)
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def check(self, key: str) -> float:
        """0 when the call may go ahead, else the seconds until it could."""
        if self.rate <= 0:
            return 0.0
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens >= 1:
                self._buckets[key] = (tokens - 1, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1 - tokens) / self.rate
