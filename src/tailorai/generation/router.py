"""The router: which rung of the personalization ladder serves a request, on which model.

Top down, the first that applies:

1. `user_adapter`: the user has an adapter in production (`user:ID`). A user adapter exists only
   when the user's data was enough to train one that beat the global adapter on held-out text:
   `tailor train` refuses to register one that did not.
2. `segment_adapter`: the user's segment has an adapter in production (`segment:NAME`).
3. `few_shot`: the user has at least `few_shot` examples of their own to show (the ladder's
   threshold, `LadderThresholds.few_shot`), on the production global model when there is one.
4. `zero_shot`: the segment's prompt alone, on the production global model or the base.

Anonymous and unknown users fall through to zero-shot with the default prompt: a cold start is
never an error. Production versions are cached for `ttl` seconds, so a promotion reaches the
router within that time without a database read per request.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

__all__ = ["RUNG_ORDER", "Route", "Router"]

RUNG_ORDER = ("user_adapter", "segment_adapter", "few_shot", "zero_shot")


@dataclass(frozen=True, slots=True)
class Route:
    rung: str
    version: Any  # the registry's ModelVersion that serves it, or None for the plain base
    reason: str

    @property
    def model_version(self) -> str | None:
        return self.version.ref if self.version is not None else None


class Router:
    def __init__(self, registry: Any, *, few_shot: int = 1, ttl: float = 5.0) -> None:
        self.registry = registry
        self.few_shot = few_shot
        self.ttl = ttl
        self._cache: dict[str, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def production(self, scope: str) -> Any:
        """The production version of `scope` (cached), or None."""
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(scope)
        if hit is not None and now - hit[0] < self.ttl:
            return hit[1]
        version = self.registry.production(scope)
        with self._lock:
            if len(self._cache) > 100_000:
                self._cache.clear()
            self._cache[scope] = (now, version)
        return version

    def route(self, user_id: str | None, segment: str | None, examples: int) -> Route:
        """The rung for a user with `examples` of their own, in `segment` (None: none yet)."""
        if user_id and (version := self.production(f"user:{user_id}")) is not None:
            return Route("user_adapter", version, f"{version.ref} is in production for them")
        if segment and (version := self.production(f"segment:{segment}")) is not None:
            return Route(
                "segment_adapter", version, f"{version.ref} is in production for {segment}"
            )
        shared = self.production("global")
        model = f"on {shared.ref}" if shared is not None else "on the base model"
        if user_id and examples >= self.few_shot:
            return Route(
                "few_shot", shared, f"{examples} examples of their own >= {self.few_shot}, {model}"
            )
        who = "anonymous" if not user_id else f"{examples} examples < {self.few_shot}"
        return Route("zero_shot", shared, f"{who}: the segment's prompt, {model}")
