"""`Collector`: group commit for event capture.

Requests hand their events to one writer thread and wait. The writer takes everything waiting
(up to `max_events`), stores it in one transaction per project, folds the new events into user
features in that same transaction, commits once, and answers every request. Under load one
commit (one fsync) serves many requests; alone, a request waits for nothing but its own commit.
Each request still gets its own answer: how many of its events were new, how many duplicates
(of stored events, of each other, or of a concurrent request's). A group whose commit fails is
rolled back and its requests retried one by one, so one request's bad write fails that request
alone, never the others grouped with it.
"""

from __future__ import annotations

import queue
import threading
from collections import defaultdict
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from tailorai.events.sql_stream import AppendResult
from tailorai.records import Event

__all__ = ["Collector"]


@dataclass
class _Request:
    project_id: str
    events: Sequence[Event]
    answer: Future[AppendResult]


class Collector:
    def __init__(self, stream: Any, features: Any = None, *, max_events: int = 5000) -> None:
        self.stream = stream
        self.features = features
        self.max_events = max_events
        self._waiting: queue.Queue[_Request | None] = queue.Queue()
        self._writer = threading.Thread(target=self._run, name="tailor-collector", daemon=True)
        self._writer.start()

    def submit(self, project_id: str, events: Sequence[Event]) -> Future[AppendResult]:
        """Queue `events`; the future resolves once they are committed."""
        answer: Future[AppendResult] = Future()
        self._waiting.put(_Request(project_id, events, answer))
        return answer

    def append(self, project_id: str, events: Sequence[Event]) -> AppendResult:
        """`submit` and wait."""
        return self.submit(project_id, events).result()

    def close(self) -> None:
        self._waiting.put(None)
        self._writer.join(timeout=30)

    def _run(self) -> None:
        while True:
            first = self._waiting.get()
            if first is None:
                return
            taken, size = [first], len(first.events)
            while size < self.max_events:
                try:
                    more = self._waiting.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self._waiting.put(None)  # stop after this group
                    break
                taken.append(more)
                size += len(more.events)
            by_project: dict[str, list[_Request]] = defaultdict(list)
            for request in taken:
                by_project[request.project_id].append(request)
            for project_id, requests in by_project.items():
                self._commit(project_id, requests)

    def _commit(self, project_id: str, requests: list[_Request]) -> None:
        events = [event for request in requests for event in request.events]
        then = None
        if self.features is not None:
            features = self.features

            def then(connection: Any, new: list[Event]) -> None:
                features.update(project_id, new, connection=connection)

        try:
            # A message stream (Redis, Kafka) takes no `then`: its consumer updates features.
            extra = {"then": then} if then is not None else {}
            result = self.stream.append(project_id, events, **extra)
        except Exception as exc:
            if len(requests) > 1:
                for request in requests:  # whichever failed it fails alone
                    self._commit(project_id, [request])
            else:
                requests[0].answer.set_exception(exc)
            return
        unclaimed = {id(event) for event in result.new}
        for request in requests:
            mine = [event for event in request.events if id(event) in unclaimed]
            unclaimed.difference_update(id(event) for event in mine)
            request.answer.set_result(
                AppendResult(len(mine), len(request.events) - len(mine), mine)
            )
