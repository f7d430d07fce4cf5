"""The pipeline: read → steps → format → split → augment → write, with a report of every count.

`Pipeline` chains steps lazily, so records stream through and memory stays flat; it times each
step by its own work (the time spent pulling from upstream is subtracted). `prepare()` is the
whole job behind `tailor data prepare`.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from tailorai.data.clean import Clean
from tailorai.data.config import PrepareConfig
from tailorai.data.exact_dedupe import ExactDedupe
from tailorai.data.language import Language
from tailorai.data.near_duplicates import NearDedupe
from tailorai.data.quality_filter import QualityFilter
from tailorai.data.sentences import Sentences
from tailorai.data.step import Step
from tailorai.records import Conversation

__all__ = ["Pipeline", "StepStats", "default_steps"]


@dataclass
class StepStats:
    name: str
    records_in: int = 0
    records_out: int = 0
    seconds: float = 0.0
    dropped: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "in": self.records_in,
            "out": self.records_out,
            "seconds": round(self.seconds, 3),
        }


class _Clock:
    """Cumulative time spent producing a stream, from its consumer's point of view."""

    def __init__(self) -> None:
        self.seconds = 0.0


def _timed(
    stream: Iterable[Conversation], clock: _Clock, on_item: Callable[[], None]
) -> Iterator[Conversation]:
    iterator = iter(stream)
    while True:
        start = time.perf_counter()
        try:
            item = next(iterator)
        except StopIteration:
            clock.seconds += time.perf_counter() - start
            return
        clock.seconds += time.perf_counter() - start
        on_item()
        yield item


class Pipeline:
    """A plain list of steps, run in order over a stream of records.

    >>> pipeline = Pipeline([Clean(), ExactDedupe()])
    >>> kept = list(pipeline.run(records))
    >>> pipeline.stats[1].dropped
    Counter({'exact_duplicate': 3})
    """

    def __init__(self, steps: Sequence[Step]) -> None:
        self.steps = list(steps)
        self.stats = [StepStats(step.name) for step in self.steps]

    def run(self, records: Iterable[Conversation]) -> Iterator[Conversation]:
        stream: Iterable[Conversation] = records
        clocks: list[tuple[_Clock, _Clock]] = []
        for step, stats in zip(self.steps, self.stats, strict=True):

            def count_in(stats: StepStats = stats) -> None:
                stats.records_in += 1

            def count_out(stats: StepStats = stats) -> None:
                stats.records_out += 1

            pulled, total = _Clock(), _Clock()
            stream = _timed(step.run(_timed(stream, pulled, count_in)), total, count_out)
            clocks.append((pulled, total))
        yield from stream
        for (pulled, total), stats, step in zip(clocks, self.stats, self.steps, strict=True):
            stats.seconds = total.seconds - pulled.seconds  # the step's own work only
            stats.dropped = step.dropped


def default_steps(config: PrepareConfig) -> list[Step]:
    """The standard steps, cheapest filters first so expensive ones see fewer records."""
    steps: list[Step] = [
        Clean(),
        Language(config.languages or None, config.language_detector),
        Sentences(),
        QualityFilter(
            min_chars=config.min_chars, max_chars=config.max_chars, min_rating=config.min_rating
        ),
        ExactDedupe(),
        NearDedupe(threshold=config.dedupe_threshold),
    ]
    if config.pii != "off":
        from tailorai.data.anonymize import Anonymize

        steps.append(Anonymize(mode=config.pii, secret=config.pii_secret))
    return steps
