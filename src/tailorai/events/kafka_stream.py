"""Kafka as the event stream (confluent-kafka), for when Redis is not enough.

One topic per project (`tailor.events.PROJECT`), keyed by user so a user's events stay in order
on one partition. `append` returns once the broker acknowledged every event (`acks=all`,
idempotent producer). A `Consumer` reads with a consumer group and commits offsets only after
the events are stored (no auto-commit): a consumer that dies before committing leaves its
events to whichever member the group rebalances them to.

    stream = KafkaEventStream("127.0.0.1:9092")
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tailorai.errors import MissingDependency, StoreError
from tailorai.events.redis_stream import decode_event, encode_event
from tailorai.events.sql_stream import AppendResult
from tailorai.records import Event

__all__ = ["KafkaEventStream"]


class KafkaEventStream:
    def __init__(
        self, bootstrap_servers: str, *, prefix: str = "tailor.events.", timeout: float = 30.0
    ) -> None:
        try:
            import confluent_kafka
        except ImportError as exc:
            raise MissingDependency("confluent-kafka", "pip install confluent-kafka") from exc
        self._kafka = confluent_kafka
        self.bootstrap_servers = bootstrap_servers
        self.prefix = prefix
        self.timeout = timeout
        self._producer = confluent_kafka.Producer(
            {"bootstrap.servers": bootstrap_servers, "enable.idempotence": True, "acks": "all"}
        )
        self._consumers: dict[tuple[str, str, str], Any] = {}

    def topic(self, project_id: str) -> str:
        return self.prefix + project_id

    def append(self, project_id: str, events: Sequence[Event]) -> AppendResult:
        """Produce `events` and wait for the broker's acknowledgement of each."""
        failures: list[str] = []

        def delivered(error: Any, _message: Any) -> None:
            if error is not None:
                failures.append(str(error))

        for event in events:
            self._producer.produce(
                self.topic(project_id),
                value=encode_event(event).encode(),
                key=event.who.encode(),
                on_delivery=delivered,
            )
        left = self._producer.flush(self.timeout)
        if left or failures:
            reason = failures[0] if failures else f"{left} events not acknowledged in time"
            raise StoreError(f"Cannot add events to Kafka topic {self.topic(project_id)}: {reason}")
        return AppendResult(len(events), 0, list(events))

    def ensure_group(self, project_id: str, group: str) -> None:
        """Groups are made by the broker when a member joins; nothing to do."""

    def _consumer(self, project_id: str, group: str, name: str) -> Any:
        key = (project_id, group, name)
        if key not in self._consumers:
            consumer = self._kafka.Consumer(
                {
                    "bootstrap.servers": self.bootstrap_servers,
                    "group.id": group,
                    "client.id": name,
                    "enable.auto.commit": False,
                    "auto.offset.reset": "earliest",
                    "session.timeout.ms": 6000,
                }
            )
            consumer.subscribe([self.topic(project_id)])
            self._consumers[key] = consumer
        return self._consumers[key]

    def read(
        self, project_id: str, group: str, consumer: str, *, count: int = 500, block_ms: int = 0
    ) -> list[tuple[str, Event]]:
        messages = self._consumer(project_id, group, consumer).consume(
            count, timeout=max(block_ms, 1000) / 1000
        )
        read = []
        for message in messages:
            if message.error() is not None:
                continue  # end-of-partition notices and the like
            entry = f"{message.partition()}:{message.offset()}"
            read.append((entry, decode_event(message.value())))
        return read

    def claim(
        self, project_id: str, group: str, consumer: str, *, min_idle_ms: int, count: int = 500
    ) -> list[tuple[str, Event]]:
        """Nothing to claim by hand: a dead member's partitions are rebalanced to the living."""
        return []

    def ack(self, project_id: str, group: str, entry_ids: Sequence[str]) -> int:
        """Commit the offsets of everything this group's consumers have read."""
        if not entry_ids:
            return 0
        for (project, member_group, _), consumer in self._consumers.items():
            if project == project_id and member_group == group:
                consumer.commit(asynchronous=False)
        return len(entry_ids)

    def close(self, project_id: str, group: str, consumer: str) -> None:
        """Leave the group; what the consumer read but did not acknowledge goes to another."""
        member = self._consumers.pop((project_id, group, consumer), None)
        if member is not None:
            member.close()
