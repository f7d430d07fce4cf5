"""What routes need, provided through `Depends`: the services and the caller's key.

Tests swap any of them with `app.dependency_overrides`.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from fastapi import HTTPException, Request

from tailorai.errors import ModelError
from tailorai.events import SqlEventStream
from tailorai.events.collector import Collector
from tailorai.generation.generation_log import GenerationLog
from tailorai.generation.variants import Variants
from tailorai.projects import ApiKey
from tailorai.segments import FeatureStore
from tailorai.segments.segmentation import Segmentations
from tailorai.server.auth import AuthError, KeyCache, RateLimiter, key_from
from tailorai.settings import Settings

__all__ = [
    "Services",
    "authorize",
    "backend_failures",
    "client_of",
    "get_services",
    "get_settings",
    "secret_key",
]


@dataclass
class Services:
    store: Any
    stream: SqlEventStream
    features: FeatureStore
    segmentations: Segmentations
    generations: GenerationLog
    variants: Variants
    collector: Collector  # stores events and updates features, one commit for many requests
    keys: KeyCache
    limiter: RateLimiter
    # Unknown keys per client address: guessing keys is slowed down, and so is junk.
    failures: RateLimiter = field(default_factory=lambda: RateLimiter(0.5, burst=20))
    consent: Any = None  # OptOuts: who opted out of tracking, per project
    make_backend: Any = None  # () -> a generation back end, made on first use
    _backend: Any = None
    _personalizers: dict[str, Any] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def personalizer(self, project_id: str) -> Any:
        """The project's `Personalizer`, on the one shared back end (both made on first use)."""
        with self._lock:
            if project_id not in self._personalizers:
                from tailorai.generation import Personalizer

                if self._backend is None:
                    self._backend = self.make_backend()
                from tailorai.audit.fatigue import FatigueGuard

                self._personalizers[project_id] = Personalizer(
                    store=self.store,
                    backend=self._backend,
                    project=project_id,
                    fatigue=FatigueGuard(self.store, project=project_id),
                )
            return self._personalizers[project_id]


def get_services(request: Request) -> Services:
    return request.app.state.services


def get_settings(request: Request) -> Settings:
    """The settings the app was made with (tests override this dependency)."""
    return request.app.state.settings


def authorize(
    services: Services,
    headers: Any,
    body: Any = None,
    *,
    secret: bool = True,
    client: str | None = None,
) -> ApiKey:
    """The caller's key, checked: known, allowed here, and within its rate. `client` (the
    caller's address) is slowed down after repeated unknown keys."""
    key = key_from(headers, body)
    if not key:
        raise AuthError(
            401,
            "No key. Send `Authorization: Bearer KEY` (or the write key in `X-Write-Key` or the "
            "body's `writeKey`); `tailor keys create` makes one.",
            "no_key",
        )
    where = f"address:{client or 'unknown'}"
    # A key known a moment ago goes ahead; anything else waits out its address's failures.
    found = services.keys.cached(key)
    if found is None and (wait := services.failures.waiting(where)) > 0:
        raise AuthError(
            429, "Too many unknown keys from this address; slow down.", "rate_limited", wait
        )
    found = found or services.keys.get(key)
    if found is None:
        services.failures.check(where)
        raise AuthError(401, "Unknown or revoked key.", "bad_key")
    if secret and found.kind != "secret":
        raise AuthError(
            403,
            f"A {found.kind} key can only send events; this needs a secret key.",
            "needs_secret_key",
        )
    wait = services.limiter.check(key)
    if wait > 0:
        raise AuthError(429, "Too many requests for this key; slow down.", "rate_limited", wait)
    return found


def client_of(request: Request) -> str | None:
    """The caller's address, as the server saw it."""
    return request.client.host if request.client is not None else None


def secret_key(request: Request) -> ApiKey:
    """Dependency: a secret key in the headers, for every route but event capture."""
    return authorize(get_services(request), request.headers, client=client_of(request))


@contextlib.contextmanager
def backend_failures() -> Iterator[None]:
    """A model back end that fails or is down becomes 503 with Retry-After: the client may
    try again, and nothing was recorded."""
    try:
        yield
    except (ModelError, RuntimeError, OSError) as exc:
        raise HTTPException(
            503,
            f"The model back end could not generate: {exc}. Nothing was recorded; try again.",
            headers={"Retry-After": "5"},
        ) from exc
