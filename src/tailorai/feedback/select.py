"""Active learning: the generations most worth retraining on or showing to a person, first.

    for c in select_candidates(store, "shop", budget=50, since=last_week):
        print(c.generation_id, c.use, f"{c.score:.2f}", "; ".join(c.reasons))

The pool is the project's generations created at or after `since` (all of them when None). Four
signals score each one; a generation none of them fires on is never a candidate. With `w` the
`weights` (defaults in `WEIGHTS`):

- corrected: the user rewrote the output; score += w["correction"]. A correction is a training
  pair as it stands (`use="training_pair"`), so corrected generations come first, whatever the
  weights. Every other candidate is for review (`use="review"`).
- negative: the reward row's `negative` (a thumbs down, one or two stars, or a correction). With
  share(s) = the pool's generations in segment s / all of the pool's, a negative on segment s
  adds w["negative"] · (0.5 + 0.5 · share(s) / max share): every negative counts at least half,
  one on the busiest segment fully, so high-traffic segments come first.
- least sure: with p = the share of the pool's generations with a known `mean_logprob` at or
  below this one's (its rank percentile), score += w["least_sure"] · (1 - p) when p ≤ 0.1 (the
  bottom 10%, or the single least sure one in a pool of under ten).
- rungs disagree: generations of one task with the same inputs (sha256 of their canonical JSON)
  made by another rung or model version. With d = 1 - |A ∩ B| / |A ∪ B| over the lower-cased
  word sets of two outputs, a member's d is its largest against the group's other makers;
  score += w["disagreement"] · d when d ≥ 0.5. Only a group's first 50 members are compared.

A weight of 0 turns its signal off, except that corrections are always candidates. Order:
corrected first, then score, highest first; ties by created_at (earliest first), then id.
Feedback counts as the reward rows have it: the API and imports update them at once, tracker
events at the next `Rewards.refresh`. `tailor.yaml`'s reward weights play no part.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import or_, select

from tailorai.errors import ConfigError
from tailorai.store.tables import GenerationRewardRow, GenerationRow

__all__ = ["WEIGHTS", "Candidate", "dissimilarity", "inputs_key", "select_candidates"]

WEIGHTS: dict[str, float] = {
    "correction": 1.0,
    "negative": 1.0,
    "least_sure": 0.5,
    "disagreement": 0.5,
}
LEAST_SURE_SHARE = 0.1  # the bottom tenth of the pool by mean log-prob
DISAGREEMENT_MIN = 0.5  # outputs sharing fewer words than this are told apart from noise
GROUP_LIMIT = 50  # members of one disagreement group compared (pairwise, so kept small)
_CHUNK = 500
_WORD = re.compile(r"\w+")


@dataclass(slots=True)
class Candidate:
    """One generation to look at: why, how strongly, and what for."""

    generation_id: str
    user_id: str | None
    segment: str | None
    task: str
    score: float
    reasons: list[str] = field(default_factory=list)
    use: str = "review"  # "training_pair": a correction, ready to train on

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class _Generation(NamedTuple):
    id: str
    user_id: str | None
    segment: str | None
    task: str
    rung: str
    model_version: str | None
    inputs: Any
    mean_logprob: float | None
    created_at: datetime


def inputs_key(task: str, inputs: Any) -> str:
    """The same request, whoever made it: sha256 of the task and the inputs' canonical JSON."""
    canonical = json.dumps(
        inputs, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )
    return hashlib.sha256(f"{task}\n{canonical}".encode()).hexdigest()


def dissimilarity(a: str, b: str) -> float:
    """1 - Jaccard similarity of the two texts' lower-cased word sets; 0.0 for two empty texts.

    >>> round(dissimilarity("Warm wool socks", "warm socks"), 2)
    0.33
    """
    words_a, words_b = set(_WORD.findall(a.lower())), set(_WORD.findall(b.lower()))
    union = words_a | words_b
    return 1.0 - len(words_a & words_b) / len(union) if union else 0.0


def _weights(given: Mapping[str, float] | None) -> dict[str, float]:
    weights = dict(WEIGHTS)
    for name, value in (given or {}).items():
        if name not in WEIGHTS:
            raise ConfigError(
                f"Unknown selection weight {name!r}; known: {', '.join(WEIGHTS)}. Got {value!r}."
            )
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ConfigError(
                f"The selection weight {name!r} must be a number >= 0. Got {value!r} instead."
            )
        weights[name] = float(value)
    return weights


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class _Scores:
    """Signals found so far, per generation."""

    def __init__(self) -> None:
        self.score: Counter[str] = Counter()
        self.reasons: dict[str, list[str]] = {}
        self.corrected: set[str] = set()

    def add(self, generation_id: str, amount: float, reason: str) -> None:
        self.score[generation_id] += amount
        self.reasons.setdefault(generation_id, []).append(reason)


def select_candidates(
    store: Any,
    project: str,
    budget: int,
    *,
    since: datetime | None = None,
    weights: Mapping[str, float] | None = None,
) -> list[Candidate]:
    """At most `budget` generations of `project` to retrain on or review, best first (see the
    module docstring for the signals and their formulas)."""
    if isinstance(budget, bool) or not isinstance(budget, int) or budget < 1:
        raise ConfigError(
            f"The 'budget' parameter of select_candidates must be an int >= 1. Got {budget!r} "
            "instead."
        )
    w = _weights(weights)
    since = _utc(since) if since is not None else None
    pool = _pool(store, project, since)
    if not pool:
        return []
    scores = _Scores()
    _feedback_signals(store, project, since, pool, w, scores)
    _least_sure(pool.values(), w["least_sure"], scores)
    _disagreements(store, pool, w["disagreement"], scores)
    chosen = sorted(
        scores.reasons,
        key=lambda g: (
            g not in scores.corrected,
            -round(scores.score[g], 9),
            pool[g].created_at,
            g,
        ),
    )[:budget]
    return [
        Candidate(
            generation_id=g,
            user_id=pool[g].user_id,
            segment=pool[g].segment,
            task=pool[g].task,
            score=round(scores.score[g], 6),
            reasons=scores.reasons[g],
            use="training_pair" if g in scores.corrected else "review",
        )
        for g in chosen
    ]


def _pool(store: Any, project: str, since: datetime | None) -> dict[str, _Generation]:
    query = select(
        GenerationRow.id,
        GenerationRow.user_key,
        GenerationRow.segment,
        GenerationRow.task,
        GenerationRow.rung,
        GenerationRow.model_version,
        GenerationRow.inputs,
        GenerationRow.mean_logprob,
        GenerationRow.created_at,
    ).where(GenerationRow.project_id == project)
    if since is not None:
        query = query.where(GenerationRow.created_at >= since)
    with store.session() as s:
        rows = s.execute(query).all()
    return {row[0]: _Generation(*row[:-1], _utc(row[-1])) for row in rows}


def _feedback_signals(
    store: Any,
    project: str,
    since: datetime | None,
    pool: dict[str, _Generation],
    w: dict[str, float],
    scores: _Scores,
) -> None:
    """Corrections and negatives, from the reward rows."""
    query = (
        select(
            GenerationRewardRow.generation_id,
            GenerationRewardRow.thumbs,
            GenerationRewardRow.rating,
            GenerationRewardRow.corrected,
            GenerationRewardRow.negative,
        )
        .join(GenerationRow, GenerationRow.id == GenerationRewardRow.generation_id)
        .where(
            GenerationRewardRow.project_id == project,
            GenerationRow.project_id == project,
            or_(GenerationRewardRow.corrected.is_(True), GenerationRewardRow.negative.is_(True)),
        )
    )
    if since is not None:
        query = query.where(GenerationRow.created_at >= since)
    with store.session() as s:
        found = [r for r in s.execute(query) if r[0] in pool]  # not one made since the pool
    rows = sorted(found, key=lambda r: (pool[r[0]].created_at, r[0]))
    traffic = Counter(g.segment for g in pool.values())
    busiest = max(traffic.values())
    for generation_id, thumbs, rating, corrected, negative in rows:
        if corrected:
            scores.corrected.add(generation_id)
            scores.add(generation_id, w["correction"], "corrected")
        if not negative or not w["negative"]:
            continue
        segment = pool[generation_id].segment
        said = [
            *(["thumbs down"] if (thumbs or 0) < 0 else []),
            *([f"{rating} star{'s' if rating > 1 else ''}"] if rating and rating <= 2 else []),
        ]
        share = traffic[segment] / len(pool)
        scores.add(
            generation_id,
            w["negative"] * (0.5 + 0.5 * traffic[segment] / busiest),
            f"{' and '.join(said) or 'negative (corrected)'} on "
            f"{segment if segment is not None else 'no segment'} ({share:.0%} of traffic)",
        )


def _least_sure(pool: Iterable[_Generation], weight: float, scores: _Scores) -> None:
    known = [g for g in pool if g.mean_logprob is not None and math.isfinite(g.mean_logprob)]
    if len(known) < 2 or not weight:
        return
    values = sorted(g.mean_logprob for g in known)  # type: ignore[type-var]
    cutoff = max(LEAST_SURE_SHARE, 1 / len(known))
    for generation in sorted(known, key=lambda g: (g.created_at, g.id)):
        percentile = bisect.bisect_right(values, generation.mean_logprob) / len(known)
        if percentile <= cutoff and percentile < 1:
            scores.add(
                generation.id,
                weight * (1 - percentile),
                f"least sure (mean log-prob {generation.mean_logprob:.2f}, "
                f"bottom {percentile:.0%})",
            )


def _disagreements(
    store: Any, pool: dict[str, _Generation], weight: float, scores: _Scores
) -> None:
    if not weight:
        return
    groups: dict[str, list[_Generation]] = {}
    for generation in sorted(pool.values(), key=lambda g: (g.created_at, g.id)):
        groups.setdefault(inputs_key(generation.task, generation.inputs), []).append(generation)
    groups = {
        key: members[:GROUP_LIMIT]
        for key, members in groups.items()
        if len({(g.rung, g.model_version) for g in members[:GROUP_LIMIT]}) > 1
    }
    if not groups:
        return
    outputs = _outputs(store, [g.id for members in groups.values() for g in members])
    for members in groups.values():
        for one in members:
            best, other = 0.0, None
            for two in members:
                if (two.rung, two.model_version) == (one.rung, one.model_version):
                    continue
                apart = dissimilarity(outputs[one.id], outputs[two.id])
                if apart > best:
                    best, other = apart, two
            if other is None or best < DISAGREEMENT_MIN:
                continue
            if other.rung != one.rung:
                what = f"rungs disagree: {one.rung} vs {other.rung}"
            else:
                what = (
                    f"model versions disagree: {one.model_version or 'base'} vs "
                    f"{other.model_version or 'base'}"
                )
            scores.add(one.id, weight * best, f"{what} (dissimilarity {best:.2f})")


def _outputs(store: Any, ids: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    with store.session() as s:
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            query = select(GenerationRow.id, GenerationRow.output).where(
                GenerationRow.id.in_(chunk)
            )
            found.update({gid: output or "" for gid, output in s.execute(query)})
    return found
