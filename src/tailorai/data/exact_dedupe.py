"""Exact de-duplication: records whose normalized text hashes the same as an earlier one go.

Normalized means case-folded, punctuation removed and whitespace collapsed, so "Hi, there!" and
"hi there" are the same record. The first one seen, across all inputs, is kept.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

import xxhash

from tailorai.data.step import Step
from tailorai.records import Conversation

__all__ = ["ExactDedupe", "normalize_for_dedupe"]

_PUNCT = re.compile(r"[^\w\s]", re.UNICODE)


def normalize_for_dedupe(text: str) -> str:
    return " ".join(_PUNCT.sub(" ", text.casefold()).split())


class ExactDedupe(Step):
    name = "exact_dedupe"

    def __init__(self) -> None:
        super().__init__()
        self._seen: set[int] = set()

    def run(self, records: Iterable[Conversation]) -> Iterator[Conversation]:
        for record in records:
            key = xxhash.xxh64_intdigest(normalize_for_dedupe(record.text).encode())
            if key in self._seen:
                self.drop(record, "exact_duplicate")
            else:
                self._seen.add(key)
                yield record
