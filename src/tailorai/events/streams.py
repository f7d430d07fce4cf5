"""Which message stream an events URL names: Redis Streams or Kafka (None: the SQL store)."""

from __future__ import annotations

from typing import Any

from tailorai.errors import ConfigError

__all__ = ["open_stream"]


def open_stream(url: str) -> Any:
    """`redis://HOST:PORT/DB` or `kafka://HOST:PORT[,HOST:PORT...]`."""
    if url.startswith(("redis://", "rediss://", "unix://")):
        from tailorai.events.redis_stream import RedisEventStream

        return RedisEventStream(url)
    if url.startswith("kafka://"):
        from tailorai.events.kafka_stream import KafkaEventStream

        return KafkaEventStream(url.removeprefix("kafka://"))
    raise ConfigError(
        f"Events URL {url!r} is not one tailorai knows: use redis://HOST:PORT/DB or "
        "kafka://HOST:PORT, or leave TAILOR_EVENTS_URL unset for the SQL store."
    )
