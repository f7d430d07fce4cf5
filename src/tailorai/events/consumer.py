"""`Consumer`: moves a project's events from a message stream (Redis Streams, Kafka) into the
SQL store and user features, then acknowledges them.

Delivery from the stream is at least once; the store's unique message id makes storage exactly
once. Entries a dead consumer read but never acknowledged come back: Redis hands them over after
`min_idle_ms` (`XAUTOCLAIM`), Kafka by rebalancing the group.
"""

from __future__ import annotations

from typing import Any

from tailorai.events.sql_stream import AppendResult

__all__ = ["Consumer"]


class Consumer:
    """Moves a project's entries from Redis into the SQL store and user features."""

    def __init__(
        self,
        stream: Any,  # RedisEventStream or KafkaEventStream
        project_id: str,
        group: str,
        name: str,
        store_stream: Any,
        features: Any = None,
        *,
        min_idle_ms: int = 30_000,
    ) -> None:
        self.stream, self.project_id, self.group, self.name = stream, project_id, group, name
        self.store_stream, self.features = store_stream, features
        self.min_idle_ms = min_idle_ms
        stream.ensure_group(project_id, group)

    def run_once(self, *, count: int = 500, block_ms: int = 0) -> AppendResult:
        """Take over stale entries, then read new ones; store, update features, acknowledge."""
        entries = self.stream.claim(
            self.project_id, self.group, self.name, min_idle_ms=self.min_idle_ms, count=count
        )
        entries += self.stream.read(
            self.project_id, self.group, self.name, count=count, block_ms=block_ms
        )
        if not entries:
            return AppendResult(0, 0, [])
        result = self.store_stream.append(self.project_id, [event for _, event in entries])
        if self.features is not None:
            self.features.update(self.project_id, result.new)
        self.stream.ack(self.project_id, self.group, [entry for entry, _ in entries])
        return result
