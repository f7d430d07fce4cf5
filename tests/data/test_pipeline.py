from __future__ import annotations

import time
from collections.abc import Iterator

from tailorai.data import Clean, ExactDedupe, Filter, Pipeline, Step
from tests.data.helpers import conv


class _Slow(Step):
    name = "slow"

    def run(self, records) -> Iterator:
        for record in records:
            time.sleep(0.02)
            yield record


class _NoQuestions(Filter):
    name = "no_questions"

    def keep(self, record):
        return ("?" not in record.text, "question")


def test_steps_run_in_order_and_count_in_out_and_drops():
    records = [conv("Hi &amp; bye", "ok"), conv("hi & bye", "ok"), conv("why?", "because")]
    pipeline = Pipeline([Clean(), ExactDedupe(), _NoQuestions()])
    kept = list(pipeline.run(records))
    assert [r.text for r in kept] == ["Hi & bye\nok"]
    stats = [(s.name, s.records_in, s.records_out, dict(s.dropped)) for s in pipeline.stats]
    assert stats == [
        ("clean", 3, 3, {}),
        ("exact_dedupe", 3, 2, {"exact_duplicate": 1}),
        ("no_questions", 2, 1, {"question": 1}),
    ]


def test_each_step_is_timed_by_its_own_work():
    pipeline = Pipeline([_Slow(), Clean()])
    list(pipeline.run([conv("a", "b") for _ in range(10)]))
    slow, clean = pipeline.stats
    assert slow.seconds >= 0.18
    assert clean.seconds < slow.seconds / 4  # the upstream sleep is not billed downstream


def test_streams_lazily():
    pulled = []

    def source():
        for i in range(1000):
            pulled.append(i)
            yield conv(f"q{i}", "a")

    stream = Pipeline([Clean()]).run(source())
    next(stream)
    assert len(pulled) == 1
