"""`Client`: send events from Python, batched in the background, retried, never blocking.

    client = Client("tk_pub_...", "https://tailor.example.com")
    client.track("u42", "Order Completed", {"revenue": 30.0})
    client.flush()  # before exit (also done at interpreter exit)

Each event gets its message id here, so a batch resent after a timeout is stored once. Batches
go out gzip'ed to `/v1/batch` when `batch_size` events wait or every `flush_interval` seconds.
Network errors, 429 and 5xx answers are retried with exponential backoff (honouring
`Retry-After`); other refusals are not retried, and are counted in `rejected` with the reason
in `errors`. When the queue is full, new events are dropped and counted in `dropped`.
"""

from __future__ import annotations

import atexit
import gzip
import json
import logging
import queue
import random
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx

__all__ = ["Client"]

log = logging.getLogger("tailorai.events")


class Client:
    def __init__(
        self,
        write_key: str,
        host: str = "http://127.0.0.1:8000",
        *,
        batch_size: int = 100,
        flush_interval: float = 1.0,
        max_queue: int = 10_000,
        max_retries: int = 8,
        timeout: float = 10.0,
    ) -> None:
        self.write_key = write_key
        self.host = host.rstrip("/")
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.max_retries = max_retries
        self.sent = 0
        self.dropped = 0
        self.rejected = 0
        self.errors: list[str] = []
        self._queue: queue.Queue[dict[str, Any]] = queue.Queue(max_queue)
        self._http = httpx.Client(timeout=timeout)
        self._pending = 0  # events queued or in flight
        self._flushers = 0  # callers waiting in flush()
        self._idle = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="tailor-events", daemon=True)
        self._thread.start()
        atexit.register(self.close)

    # What users call -----------------------------------------------------------------------

    def track(
        self,
        user_id: str | None,
        event: str,
        properties: dict[str, Any] | None = None,
        **fields: Any,
    ) -> str:
        """Queue an action; returns its message id. `fields`: anonymous_id, context, timestamp."""
        return self._enqueue("track", user_id, event=event, properties=properties or {}, **fields)

    def page(
        self,
        user_id: str | None,
        name: str | None = None,
        properties: dict[str, Any] | None = None,
        **fields: Any,
    ) -> str:
        return self._enqueue("page", user_id, event=name, properties=properties or {}, **fields)

    def identify(self, user_id: str, traits: dict[str, Any] | None = None, **fields: Any) -> str:
        return self._enqueue("identify", user_id, traits=traits or {}, **fields)

    def feedback(
        self, user_id: str | None, generation_id: str, values: dict[str, Any], **fields: Any
    ) -> str:
        """Thumbs, stars or a comment on a generation: `{"thumbs": "up"}`, `{"stars": 4}`."""
        properties = {"generation_id": generation_id, **values}
        return self._enqueue("feedback", user_id, event="Feedback", properties=properties, **fields)

    def flush(self, timeout: float | None = 30.0) -> bool:
        """Wait until every queued event is sent or given up on; False if `timeout` passed."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._idle:
            self._flushers += 1
            try:
                while self._pending:
                    remaining = None if deadline is None else deadline - time.monotonic()
                    if remaining is not None and remaining <= 0:
                        return False
                    self._idle.wait(remaining)
            finally:
                self._flushers -= 1
        return True

    def close(self, timeout: float = 30.0) -> None:
        """Send what is queued, then stop the background thread."""
        if self._closed:
            return
        self.flush(timeout)
        self._closed = True
        self._thread.join(timeout=5)
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # The background side ---------------------------------------------------------------------

    def _enqueue(self, kind: str, user_id: str | None, **fields: Any) -> str:
        if self._closed:
            raise RuntimeError("This Client is closed; create a new one.")
        timestamp = fields.pop("timestamp", None) or datetime.now(UTC)
        event = {
            "type": kind,
            "userId": user_id,
            "messageId": fields.pop("message_id", None) or str(uuid.uuid4()),
            "timestamp": timestamp.isoformat(),
            "context": {"library": {"name": "tailorai-python"}, **fields.pop("context", {})},
        }
        if "anonymous_id" in fields:
            event["anonymousId"] = fields.pop("anonymous_id")
        event.update({k: v for k, v in fields.items() if v is not None})
        with self._idle:
            self._pending += 1
        try:
            self._queue.put_nowait(event)
        except queue.Full:
            self.dropped += 1
            self._done(1)
        return event["messageId"]

    def _done(self, count: int) -> None:
        with self._idle:
            self._pending -= count
            if not self._pending:
                self._idle.notify_all()

    def _run(self) -> None:
        while not (self._closed and self._queue.empty()):
            batch = self._next_batch()
            if batch:
                try:
                    self._send(batch)
                finally:
                    self._done(len(batch))

    def _next_batch(self) -> list[dict[str, Any]]:
        try:
            batch = [self._queue.get(timeout=0.2)]
        except queue.Empty:
            return []
        deadline = time.monotonic() + self.flush_interval
        while len(batch) < self.batch_size:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                batch.append(self._queue.get(timeout=min(remaining, 0.05)))
            except queue.Empty:
                if self._flushing():
                    break
        return batch

    def _flushing(self) -> bool:
        # Someone waits in flush(): send what there is instead of waiting for a full batch.
        return self._closed or self._flushers > 0

    def _send(self, batch: list[dict[str, Any]]) -> None:
        body = gzip.compress(
            json.dumps({"batch": batch, "sentAt": datetime.now(UTC).isoformat()}).encode()
        )
        headers = {
            "Content-Type": "application/json",
            "Content-Encoding": "gzip",
            "X-Write-Key": self.write_key,
        }
        for attempt in range(self.max_retries + 1):
            wait = min(30.0, 0.2 * 2**attempt) * (0.5 + random.random())
            try:
                answer = self._http.post(f"{self.host}/v1/batch", content=body, headers=headers)
            except httpx.TransportError as exc:
                reason = f"{type(exc).__name__}: {exc}"
            else:
                if answer.status_code == 200:
                    self.sent += len(batch)
                    rejected = answer.json().get("rejected", [])
                    self._refused(len(rejected), [r["detail"] for r in rejected])
                    return
                reason = f"HTTP {answer.status_code}: {answer.text[:200]}"
                if answer.status_code != 429 and answer.status_code < 500:
                    self._refused(len(batch), [reason])
                    return
                retry_after = answer.headers.get("retry-after", "")
                if retry_after.isdigit():
                    wait = max(wait, float(retry_after))
            if attempt < self.max_retries:
                log.debug("batch of %d not sent (%s); retrying in %.1fs", len(batch), reason, wait)
                time.sleep(wait)
        self._refused(len(batch), [f"gave up after {self.max_retries + 1} tries: {reason}"])

    def _refused(self, count: int, reasons: list[str]) -> None:
        if count:
            self.rejected += count
            self.errors.extend(reasons[:10])
            del self.errors[:-100]
            log.warning("%d events not stored: %s", count, reasons[0] if reasons else "")
