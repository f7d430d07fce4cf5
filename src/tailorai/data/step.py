"""The shape every pipeline step has.

A step is a small class with one hook. `Step.run(records)` is the general one; most steps only
need `Filter.keep(record)` (drop a record, with a reason) or `TextTransform.transform(text)`
(rewrite every message). Steps never raise on a bad record: they drop it and count why.
"""

from __future__ import annotations

import importlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from typing import ClassVar

from tailorai.errors import MissingDependency
from tailorai.records import Conversation

__all__ = ["Filter", "Step", "TextTransform", "require"]

RejectSink = Callable[[Conversation, str, str], None]  # (record, step name, reason)


def require(module: str, install: str) -> None:
    """Fail at construction, with the command to run, when an optional module is missing."""
    try:
        importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependency(f"The Python package '{module}'", install) from exc


class Step:
    """Base class: `run` takes records and yields the ones that go on."""

    name: ClassVar[str] = "step"

    def __init__(self) -> None:
        self.dropped: Counter[str] = Counter()
        self.reject_sink: RejectSink | None = None

    def drop(self, record: Conversation, reason: str) -> None:
        self.dropped[reason] += 1
        if self.reject_sink is not None:
            self.reject_sink(record, self.name, reason)

    def run(self, records: Iterable[Conversation]) -> Iterator[Conversation]:
        raise NotImplementedError


class Filter(Step):
    """A step that keeps or drops whole records: override `keep`."""

    def keep(self, record: Conversation) -> bool | tuple[bool, str]:
        raise NotImplementedError

    def run(self, records: Iterable[Conversation]) -> Iterator[Conversation]:
        for record in records:
            verdict = self.keep(record)
            ok, reason = verdict if isinstance(verdict, tuple) else (verdict, self.name)
            if ok:
                yield record
            else:
                self.drop(record, reason)


class TextTransform(Step):
    """A step that rewrites the text of every message: override `transform`.

    A record whose messages all end up empty is dropped as `empty`.
    """

    def transform(self, text: str) -> str:
        raise NotImplementedError

    def run(self, records: Iterable[Conversation]) -> Iterator[Conversation]:
        for record in records:
            for message in record.messages:
                new = self.transform(message.content)
                if new != message.content:
                    message.content = new
                    message.sentences = None
            record.messages = [m for m in record.messages if m.content]
            if record.messages:
                yield record
            else:
                self.drop(record, "empty")
