"""Diversity audit: a personalized model that says the same thing to everyone is not personalized.

For each segment, the outputs its users got (for comparable requests) are scored two ways:

- `distinct_n` (Li et al. 2016): unique word n-grams over all n-grams of all the outputs
  together. 1.0 when no n-gram repeats; ``1/k`` when k users all got the same text. Over more
  outputs it falls (common n-grams recur), so the report takes the mean over seeded random
  groups of ``per`` outputs (20): the figure, and the gate, do not move with the audit's size.
- `self_similarity`: the mean Jaccard similarity of the word-shingle sets of pairs of outputs,
  pairs of different users only (one user's outputs may rightly resemble each other). Exact
  Jaccard over every pair, or over `max_pairs` pairs drawn at random (seeded) when there are
  more: an unbiased estimate of the same mean, as cheap as MinHash would make it.

A segment fails when its self-similarity is above `max_self_similarity` or its distinct-n is
below `min_distinct`; with fewer than `min_outputs` outputs or fewer than two users its gates
are insufficient data (``passed=None``).

>>> report = diversity_report(rows)  # rows: {"segment", "user", "text"}
>>> [g for g in report.gates() if g["passed"] is False]
"""

from __future__ import annotations

import random
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from tailorai.errors import ConfigError, DataError

__all__ = [
    "DiversityReport",
    "SegmentDiversity",
    "distinct_n",
    "diversity_report",
    "self_similarity",
]

_WORD = re.compile(r"\w+")


def _words(text: str) -> list[str]:
    return _WORD.findall(text.casefold())


def _check_n(n: Any) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ConfigError(f"`n` must be a positive int, got {n!r}.")
    return n


def distinct_n(texts: Iterable[str], n: int = 2) -> float:
    """Unique word n-grams / all word n-grams, over all `texts` together (0.0 with none).

    >>> distinct_n(["the cat sat", "the cat sat"], 2)
    0.5
    """
    _check_n(n)
    seen: set[tuple[str, ...]] = set()
    total = 0
    for text in texts:
        words = _words(text)
        grams = [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]
        seen.update(grams)
        total += len(grams)
    return len(seen) / total if total else 0.0


def _distinct_per(texts: Sequence[str], n: int, per: int, seed: int) -> float:
    """Mean distinct-n over seeded random groups of `per` texts (a last, smaller group is left
    out when there is a full one)."""
    if len(texts) <= per:
        return distinct_n(texts, n)
    shuffled = list(texts)
    random.Random(seed).shuffle(shuffled)
    groups = [shuffled[i : i + per] for i in range(0, len(shuffled) - per + 1, per)]
    return sum(distinct_n(group, n) for group in groups) / len(groups)


def _shingles(text: str, size: int) -> frozenset[tuple[str, ...]]:
    words = _words(text)
    if len(words) < size:  # a short text is one shingle of what it has
        return frozenset([tuple(words)]) if words else frozenset()
    return frozenset(tuple(words[i : i + size]) for i in range(len(words) - size + 1))


def _jaccard(a: frozenset, b: frozenset) -> float:
    if not a and not b:
        return 1.0  # two empty outputs are the same output
    return len(a & b) / len(a | b)


def self_similarity(
    texts: Sequence[str],
    users: Sequence[Any] | None = None,
    *,
    shingle: int = 2,
    max_pairs: int = 20_000,
    seed: int = 0,
) -> float | None:
    """Mean pairwise Jaccard similarity of the texts' word `shingle`-gram sets.

    With `users`, only pairs of texts of different users count. None when there is no pair.

    >>> self_similarity(["the cat sat", "the cat sat", "a dog ran"])
    0.333...
    """
    _check_n(shingle)
    if users is not None and len(users) != len(texts):
        raise ConfigError(f"`users` must have one entry per text: {len(users)} for {len(texts)}.")
    owners = list(users) if users is not None else list(range(len(texts)))
    sets = [_shingles(t, shingle) for t in texts]
    count = len(sets)
    pairs = [(i, j) for i in range(count) for j in range(i + 1, count) if owners[i] != owners[j]]
    if not pairs:
        return None
    if len(pairs) > max_pairs:
        pairs = random.Random(seed).sample(pairs, max_pairs)
    return sum(_jaccard(sets[i], sets[j]) for i, j in pairs) / len(pairs)


@dataclass(slots=True)
class SegmentDiversity:
    segment: str
    outputs: int
    users: int
    distinct: float  # distinct-n, n as in the report
    self_similarity: float | None
    sufficient: bool


@dataclass
class DiversityReport:
    n: int
    max_self_similarity: float
    min_distinct: float
    min_outputs: int
    segments: dict[str, SegmentDiversity] = field(default_factory=dict)

    def gates(self) -> list[dict[str, Any]]:
        """Two gates per segment; an insufficient segment's gates have ``passed=None``."""
        gates = []
        for name, s in sorted(self.segments.items()):
            why = (
                []
                if s.sufficient
                else [
                    f"insufficient data: {s.outputs} outputs from {s.users} users; need "
                    f"{self.min_outputs} outputs from 2 users or more"
                ]
            )
            similar = s.self_similarity
            gates.append(
                {
                    "name": f"self_similarity[{name}]",
                    "figure": similar,
                    "threshold": self.max_self_similarity,
                    "passed": (
                        bool(similar <= self.max_self_similarity)
                        if s.sufficient and similar is not None
                        else None
                    ),
                    "evidence": why or [{"outputs": s.outputs, "users": s.users}],
                }
            )
            gates.append(
                {
                    "name": f"distinct_{self.n}[{name}]",
                    "figure": s.distinct,
                    "threshold": self.min_distinct,
                    "passed": bool(s.distinct >= self.min_distinct) if s.sufficient else None,
                    "evidence": why or [{"outputs": s.outputs, "users": s.users}],
                }
            )
        return gates

    @property
    def passed(self) -> bool:
        """No segment failed (insufficient data does not fail)."""
        return all(g["passed"] is not False for g in self.gates())

    def as_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "n": self.n,
            "gates": self.gates(),
            "segments": {name: asdict(s) for name, s in self.segments.items()},
        }


def diversity_report(
    rows: Iterable[Mapping[str, Any]],
    *,
    n: int = 2,
    max_self_similarity: float = 0.8,
    min_distinct: float = 0.2,
    min_outputs: int = 5,
    shingle: int = 2,
    max_pairs: int = 20_000,
    seed: int = 0,
    per: int = 20,
) -> DiversityReport:
    """Score each segment's outputs; `rows` are ``{"segment", "user", "text"}`` mappings."""
    _check_n(n)
    if not 0 <= max_self_similarity <= 1 or not 0 <= min_distinct <= 1:
        raise ConfigError(
            "`max_self_similarity` and `min_distinct` must be in [0, 1], got "
            f"{max_self_similarity!r} and {min_distinct!r}."
        )
    by_segment: dict[str, list[tuple[Any, str]]] = defaultdict(list)
    for number, row in enumerate(rows, start=1):
        text = row.get("text")
        if not isinstance(text, str):
            raise DataError(
                f"Row {number} has no text to score (got {text!r}). Each row needs "
                '{"segment": ..., "user": ..., "text": "..."}.'
            )
        by_segment[str(row.get("segment"))].append((row.get("user"), text))
    report = DiversityReport(n, max_self_similarity, min_distinct, min_outputs)
    for segment, items in by_segment.items():
        texts = [text for _, text in items]
        # An output without a user is nobody else's: it pairs with every other output.
        users = [
            user if user is not None else ("anonymous", i) for i, (user, _) in enumerate(items)
        ]
        user_count = len(set(users))
        report.segments[segment] = SegmentDiversity(
            segment=segment,
            outputs=len(texts),
            users=user_count,
            distinct=_distinct_per(texts, n, per, seed),
            self_similarity=self_similarity(
                texts, users, shingle=shingle, max_pairs=max_pairs, seed=seed
            ),
            sufficient=len(texts) >= min_outputs and user_count >= 2,
        )
    return report
