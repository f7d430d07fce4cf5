"""Redis Streams as the event stream, for more traffic than one SQL writer takes.

The collector `append`s events to one stream per project (`XADD`, one pipeline per batch); it
answers once Redis has them (durable as far as Redis' own persistence: run it with
`appendonly yes` and `appendfsync always` for no loss on a crash). A `Consumer` in a consumer
group reads entries (`XREADGROUP`), stores them in the SQL store, where the unique message id
makes a redelivered entry harmless, folds the new ones into user features, and only then
acknowledges them (`XACK`): delivery is at least once, storage exactly once. Entries a dead
consumer left unacknowledged are taken over after `min_idle_ms` (`XAUTOCLAIM`).

    stream = RedisEventStream("redis://127.0.0.1:6379/0")
    Consumer(stream, "shop", "ingest", "worker-1", sql_stream, features).run_once()
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from tailorai.errors import MissingDependency, StoreError
from tailorai.events.sql_stream import AppendResult
from tailorai.records import Event

__all__ = ["RedisEventStream", "decode_event", "encode_event"]


def encode_event(event: Event) -> str:
    return json.dumps(event.as_dict(), separators=(",", ":"))


def decode_event(data: str | bytes) -> Event:
    raw = json.loads(data)
    for key in ("timestamp", "received_at", "sent_at"):
        if raw.get(key):
            raw[key] = datetime.fromisoformat(raw[key])
    return Event(**raw)


class RedisEventStream:
    def __init__(self, url: str, *, prefix: str = "tailor:events:", maxlen: int = 1_000_000):
        try:
            import redis
        except ImportError as exc:
            raise MissingDependency("redis", "pip install redis") from exc
        self.client = redis.Redis.from_url(url, decode_responses=True)
        self.prefix = prefix
        self.maxlen = maxlen
        self._errors = redis.RedisError

    def key(self, project_id: str) -> str:
        return self.prefix + project_id

    def append(self, project_id: str, events: Sequence[Event]) -> AppendResult:
        """Add `events` to the project's stream; duplicates are dropped by the consumer."""
        try:
            with self.client.pipeline(transaction=True) as pipe:
                for event in events:
                    pipe.xadd(
                        self.key(project_id),
                        {"e": encode_event(event)},
                        maxlen=self.maxlen,
                        approximate=True,
                    )
                pipe.execute()
        except self._errors as exc:
            raise StoreError(
                f"Cannot add events to Redis stream {self.key(project_id)}: {exc}"
            ) from exc
        # Stored here means queued for the consumer, which drops duplicates.
        return AppendResult(len(events), 0, list(events))

    def ensure_group(self, project_id: str, group: str) -> None:
        try:
            self.client.xgroup_create(self.key(project_id), group, id="0", mkstream=True)
        except self._errors as exc:
            if "BUSYGROUP" not in str(exc):
                raise StoreError(f"Cannot create consumer group {group}: {exc}") from exc

    def read(
        self, project_id: str, group: str, consumer: str, *, count: int = 500, block_ms: int = 0
    ) -> list[tuple[str, Event]]:
        """New entries for `consumer`, as (entry id, event)."""
        answer = self.client.xreadgroup(
            group, consumer, {self.key(project_id): ">"}, count=count, block=block_ms or None
        )
        return [
            (entry, decode_event(fields["e"])) for _, entries in answer for entry, fields in entries
        ]

    def claim(
        self, project_id: str, group: str, consumer: str, *, min_idle_ms: int, count: int = 500
    ) -> list[tuple[str, Event]]:
        """Entries other consumers read but did not acknowledge within `min_idle_ms`."""
        _next, entries, *_deleted = self.client.xautoclaim(
            self.key(project_id), group, consumer, min_idle_time=min_idle_ms, count=count
        )
        return [(entry, decode_event(fields["e"])) for entry, fields in entries if fields]

    def ack(self, project_id: str, group: str, entry_ids: Sequence[str]) -> int:
        return int(self.client.xack(self.key(project_id), group, *entry_ids)) if entry_ids else 0

    def pending(self, project_id: str, group: str) -> int:
        return int(self.client.xpending(self.key(project_id), group)["pending"])

    def close(self, project_id: str, group: str, consumer: str) -> None:
        """Nothing to leave: what the consumer did not acknowledge is claimed by another."""
