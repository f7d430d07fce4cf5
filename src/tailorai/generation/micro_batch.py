"""Micro-batching: requests from concurrent callers, served a few at a time in one call.

A model step costs about the same for 1 row as for 8 on most hardware, so a worker thread waits
up to `wait_s` after the first request for others to arrive (at most `max_batch`) and runs them
together. Each caller holds a `Future` for its own result; a request that fails alone (an
unknown adapter, a prompt too long) fails only its own future.

>>> batcher = MicroBatcher(run, max_batch=8, wait_s=0.005)
>>> batcher.submit(request).result()
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Generic, TypeVar

from tailorai.errors import ModelError

__all__ = ["MicroBatcher"]

T = TypeVar("T")
R = TypeVar("R")

_STOP = object()  # the sentinel that tells the worker to finish


class MicroBatcher(Generic[T, R]):
    """A worker thread that runs `run(batch)` on the requests that arrive close together.

    `run` returns one outcome per request, in order: its result, or the exception to raise in
    that request's caller. The thread starts on the first `submit`, so an object only used
    synchronously never starts one, and ends after `idle_s` without requests, to start again
    on the next: an idle worker's OpenMP threads slowed training in the same process by a
    fifth and an audit's generation twofold on 2 cores (the demo's retrain and audit).
    """

    def __init__(
        self,
        run: Callable[[list[T]], Sequence[R | BaseException]],
        *,
        max_batch: int = 8,
        wait_s: float = 0.005,
        idle_s: float = 2.0,
        name: str = "tailorai-micro-batch",
    ) -> None:
        self.run = run
        self.max_batch = max_batch
        self.wait_s = wait_s
        self.idle_s = idle_s
        self.name = name
        self.batches = 0  # batches handed to `run`, for tests and metrics
        self._queue: queue.Queue[object] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._closed = False
        self._last_submit = 0.0  # monotonic time of the submit before the newest
        self._newest_submit = 0.0

    def submit(self, item: T) -> Future[R]:
        """Queue `item`; the future holds its result once its batch has run."""
        future: Future[R] = Future()
        with self._start_lock:
            if self._closed:
                raise ModelError(
                    "This back end is closed, so it takes no more requests. Create a new one."
                )
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
                self._thread.start()
            self._last_submit, self._newest_submit = self._newest_submit, time.monotonic()
            self._queue.put((item, future))
        return future

    def close(self, timeout: float | None = None) -> None:
        """Serve what is queued, then stop the worker; later `submit` calls raise."""
        with self._start_lock:
            if self._closed:
                return
            self._closed = True
            thread = self._thread
            self._queue.put(_STOP)
        if thread is not None:
            thread.join(timeout)

    def _collect(self, first: object) -> tuple[list[tuple[T, Future[R]]], bool]:
        """The first request and those arriving within `wait_s` of it; whether to stop after.

        A request after a quiet spell (nothing else submitted within `wait_s` before it) does
        not wait: it takes only what is already queued, so a lone request pays no batching
        delay, while under concurrent load requests keep gathering into shared batches."""
        batch = [first]
        quiet = self._newest_submit - self._last_submit > self.wait_s and self._queue.empty()
        deadline = time.monotonic() + (0.0 if quiet else self.wait_s)
        while len(batch) < self.max_batch:
            remaining = deadline - time.monotonic()
            try:
                item = (
                    self._queue.get(timeout=remaining)
                    if remaining > 0
                    else self._queue.get_nowait()
                )
            except queue.Empty:
                break
            if item is _STOP:
                return batch, True  # type: ignore[return-value]
            batch.append(item)
        return batch, False  # type: ignore[return-value]

    def _loop(self) -> None:
        while True:
            try:
                first = self._queue.get(timeout=self.idle_s)
            except queue.Empty:
                with self._start_lock:  # no submit between the check and the exit
                    if self._queue.empty():
                        self._thread = None
                        return
                continue
            if first is _STOP:
                return
            batch, stop = self._collect(first)
            self._serve(batch)
            if stop:
                return

    def _serve(self, batch: list[tuple[T, Future[R]]]) -> None:
        # A caller may have cancelled its future while it waited in the queue.
        live = [(item, future) for item, future in batch if future.set_running_or_notify_cancel()]
        if not live:
            return
        self.batches += 1
        try:
            outcomes: Sequence[R | BaseException] = self.run([item for item, _ in live])
        except BaseException as exc:  # every caller must hear about it
            outcomes = [exc] * len(live)
        for (_, future), outcome in zip(live, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)
