"""MicroBatcher: a lone request does not wait for company; a backlog is served together."""

from __future__ import annotations

import threading

from tailorai.generation.micro_batch import MicroBatcher


def test_a_quiet_start_runs_at_once_and_a_backlog_runs_as_one_batch():
    sizes: list[int] = []
    gate = threading.Event()

    def run(items):
        sizes.append(len(items))
        gate.wait(timeout=30)  # the first batch holds the model while others queue up
        return [item * 2 for item in items]

    batcher = MicroBatcher(run, max_batch=3, wait_s=60.0)  # a wait no test could sit through
    first = batcher.submit(1)
    for _ in range(1000):  # up to 10 s, far less than the 60 s it would wait for company
        if sizes:
            break
        threading.Event().wait(0.01)
    assert sizes == [1], "a lone request after a quiet spell must not wait"
    later = [batcher.submit(n) for n in (2, 3, 4)]
    gate.set()
    assert first.result(timeout=30) == 2
    assert [f.result(timeout=30) for f in later] == [4, 6, 8]
    assert sizes == [1, 3]
    batcher.close(timeout=30)


def test_an_idle_worker_ends_and_the_next_request_starts_a_new_one():
    batcher = MicroBatcher(lambda items: [item + 1 for item in items], idle_s=0.05)
    assert batcher.submit(1).result(timeout=30) == 2
    first = batcher._thread
    assert first is not None
    first.join(timeout=30)  # it ends on its own once nothing came for idle_s
    assert not first.is_alive() and batcher._thread is None
    assert batcher.submit(2).result(timeout=30) == 3  # and a new one serves the next request
    assert batcher._thread is not None and batcher._thread is not first
    batcher.close(timeout=30)
