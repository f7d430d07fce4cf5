"""The personalization ladder: which rung each user's and each segment's data supports.

The rungs, cheapest first: `zero_shot` (the segment's prompt template), `few_shot` (the user's
own retrieved examples in the prompt), `segment_adapter` (a LoRA adapter for the user's segment)
and `user_adapter` (a LoRA adapter for the user alone). A user gets the highest rung their data
supports, by the number of training examples:

- `few_shot` from 1 of the user's own examples (`LadderThresholds.few_shot`): on SmolLM2 one
  retrieved own text already helps. In `bench/personalization_quality.py`'s own-texts curve
  (12 Stack Exchange authors, 6 test texts each), letting retrieval pick from a user's newest
  1, 2, 3, 5 or 10 training texts gave few-shot perplexity 59.3, 58.6, 57.8, 56.5 and 55.0
  against zero-shot's 68.7, and the global adapter trained with retrieval, given them, 38.3,
  38.2, 38.1, 37.5 and 37.4 against the plain global adapter's 38.9: better from the first
  text and more with each. (On the 260K story
  model its own examples hurt, and the threshold was 3.)
- `segment_adapter` when the user's segment has 200 examples (`segment_adapter`). A segment
  adapter starts from the global adapter, which already saw the segment's data, and must learn
  what the segment's users share beyond it from examples pooled across many people: it needs
  more data than one user's adapter to separate that signal from the noise of individuals.
  Adapters pay off from the hundreds of examples (LoRA is data-efficient, but with tens of
  examples prompting matches it; OpenAI's fine-tuning guide starts at 50-100).
- `user_adapter` from 100 of the user's own examples (`user_adapter`): twice the 50 below which
  `finetune` warns that LoRA rarely beats few-shot, so a tenth or more can still be held out to
  stop early on, since a user adapter must not overfit the few examples one person has. On
  SmolLM2 no fewer will do: user adapters on 21 Stack Exchange texts each were refused for 5
  of 12 authors and gained 0.2% for the rest, and on 57-112 texts for 4 of 4 authors (their
  held-out loss never went below the global adapter trained with retrieval they started from;
  `bench/personalization_quality.py`).

Counts are a prior. Where the dataset has a validation split and models are registered, the
measured held-out loss (mean NLL per reply token, from `evaluate`) decides instead: the rung
with the lowest loss among those the data supports (plus the global adapter, the
non-personalized baseline every user can get, and `global_retrieval`, the global adapter with the
user's own examples, where few-shot is supported: what the router serves as `few_shot` when a
global version is in production). A rung the counts rule out is never picked, as a
loss measured on a couple of held-out examples is too noisy to justify it.

>>> plan = plan_dataset("dataset")
>>> [(r.name, r.rung, r.reason) for r in plan.users]
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tailorai.errors import ConfigError
from tailorai.training.evaluate import RUNGS

__all__ = [
    "LADDER",
    "LadderThresholds",
    "Plan",
    "Recommendation",
    "plan",
    "plan_dataset",
    "supported_rungs",
]

LADDER = ("zero_shot", "few_shot", "segment_adapter", "user_adapter")  # cheapest first
# What serving costs, least first, is the order `evaluate` lists the rungs in: the global adapter
# is what every request gets anyway; few-shot lengthens every prompt, and so does the global
# adapter with the user's own examples; each segment or user adapter is one more model to train
# and load.
_COST = RUNGS


@dataclass(frozen=True)
class LadderThresholds:
    """Training examples from which each rung is supported (see the module docstring)."""

    few_shot: int = field(
        default=1, metadata={"help": "A user's own examples from which few-shot applies."}
    )
    segment_adapter: int = field(
        default=200, metadata={"help": "A segment's examples from which it gets an adapter."}
    )
    user_adapter: int = field(
        default=100, metadata={"help": "A user's own examples from which they get an adapter."}
    )

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(
                    f"The '{name}' threshold of the ladder must be an int >= 1. "
                    f"Got {value!r} instead."
                )


@dataclass
class Recommendation:
    """The rung for one user or one segment, and why."""

    kind: str  # "user" or "segment"
    name: str
    examples: int  # training examples
    held_out: int  # validation examples
    rung: str
    reason: str
    supported: list[str]
    by_counts: str  # the rung the counts alone give
    segment: str | None = None  # a user's segment
    users: int | None = None  # a segment's users
    measured: dict[str, float] = field(default_factory=dict)  # rung -> held-out loss

    @property
    def scope(self) -> str:
        return f"{self.kind}:{self.name}"

    def as_dict(self) -> dict[str, Any]:
        return {"scope": self.scope, **asdict(self)}


@dataclass
class Plan:
    users: list[Recommendation]
    segments: list[Recommendation]
    thresholds: LadderThresholds
    measured: bool  # whether held-out losses were available to decide with
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "thresholds": asdict(self.thresholds),
            "measured": self.measured,
            "note": self.note,
            "users": [r.as_dict() for r in self.users],
            "segments": [r.as_dict() for r in self.segments],
        }


def supported_rungs(
    user_examples: int, segment_examples: int, thresholds: LadderThresholds | None = None
) -> list[str]:
    """The ladder rungs a user's data supports, cheapest first.

    >>> supported_rungs(40, 500)
    ['zero_shot', 'few_shot', 'segment_adapter']
    """
    t = thresholds or LadderThresholds()
    rungs = ["zero_shot"]
    if user_examples >= t.few_shot:
        rungs.append("few_shot")
    if segment_examples >= t.segment_adapter:
        rungs.append("segment_adapter")
    if user_examples >= t.user_adapter:
        rungs.append("user_adapter")
    return rungs


def _examples(n: int) -> str:
    return f"{n} example" if n == 1 else f"{n} examples"


def _count_reason(
    rung: str, n: int, segment: str | None, n_segment: int, t: LadderThresholds
) -> str:
    if rung == "user_adapter":
        return f"{_examples(n)} >= {t.user_adapter}: enough for the user's own adapter"
    if rung == "segment_adapter":
        return (
            f"segment {segment} has {n_segment} examples >= {t.segment_adapter}: its adapter; "
            f"the user's {n} < {t.user_adapter} for an own adapter"
        )
    if rung == "few_shot":
        where = (
            f"segment {segment} has {n_segment} < {t.segment_adapter}"
            if segment is not None
            else "no segment"
        )
        return f"{_examples(n)} >= {t.few_shot}: few-shot with the user's own; {where}"
    return f"{_examples(n)} < {t.few_shot}: too few to show; the segment's prompt (zero-shot)"


def _measured_choice(
    candidates: Sequence[str], losses: Mapping[str, float], by_counts: str, held_out: int
) -> tuple[str, str] | None:
    # Cheapest first, so that a tie goes to the rung that is cheaper to serve.
    ordered = sorted(candidates, key=_COST.index)
    measured = {r: losses[r] for r in ordered if r in losses}
    if not measured:
        return None
    best = min(measured, key=lambda r: measured[r])
    ranking = " < ".join(f"{r} {measured[r]:.3f}" for r in sorted(measured, key=measured.get))
    verdict = "agrees with" if best == by_counts else f"overrides {by_counts} from"
    return best, f"held-out loss on {_examples(held_out)}: {ranking}; {verdict} the counts"


def _majority(values: Sequence[str | None]) -> str | None:
    known = Counter(v for v in values if v is not None)
    return known.most_common(1)[0][0] if known else None


def plan(
    train: Sequence[Mapping[str, Any]],
    validation: Sequence[Mapping[str, Any]] = (),
    *,
    thresholds: LadderThresholds | None = None,
    group_by: str = "segment",
    evaluation: Any = None,
) -> Plan:
    """The rung of every user and segment in the data, by counts or, given an `evaluation` of
    the validation split, by measured held-out loss among the rungs the counts allow."""
    t = thresholds or LadderThresholds()

    def segment_of(row: Mapping[str, Any]) -> str | None:
        value = (row.get("meta") or {}).get(group_by)
        return None if value is None else str(value)

    def user_of(row: Mapping[str, Any]) -> str | None:
        return None if row.get("user_id") is None else str(row["user_id"])

    train_users = Counter(user_of(r) for r in train)
    held_users = Counter(user_of(r) for r in validation)
    train_segments = Counter(segment_of(r) for r in train)
    held_segments = Counter(segment_of(r) for r in validation)
    segments_of: dict[str, list[str | None]] = {}
    for row in [*train, *validation]:
        user = user_of(row)
        if user is not None:
            segments_of.setdefault(user, []).append(segment_of(row))

    def losses(by: str, key: str) -> dict[str, float]:
        if evaluation is None:
            return {}
        found = {}
        for rung, score in evaluation.scores.items():
            loss = score.loss_by(by).get(key)
            if loss is not None:
                found[rung] = loss
        return found

    def recommend(
        kind: str,
        name: str,
        examples: int,
        held_out: int,
        supported: list[str],
        reason: str,
        *,
        segment: str | None = None,
        users: int | None = None,
    ) -> Recommendation:
        """The rung the counts give (`supported[-1]`, for `reason`), unless held-out loss
        measured on the rungs and the global adapter picks another."""
        by_counts = supported[-1]
        rung = by_counts
        measured = losses(kind, name)
        # The global adapter is every user's; with the user's own examples, where few-shot is.
        shared = ["global_adapter"] + (["global_retrieval"] if "few_shot" in supported else [])
        choice = _measured_choice([*supported, *shared], measured, by_counts, held_out)
        if choice is not None:
            rung, reason = choice
        elif evaluation is not None:
            reason += f"; not measured: no held-out examples or models for this {kind}"
        return Recommendation(
            kind=kind,
            name=name,
            examples=examples,
            held_out=held_out,
            rung=rung,
            reason=reason,
            supported=supported,
            by_counts=by_counts,
            segment=segment,
            users=users,
            measured=measured,
        )

    users = []
    for user in sorted(segments_of, key=lambda u: (-train_users[u], u)):
        n = train_users[user]
        segment = _majority(segments_of[user])
        n_segment = train_segments[segment] if segment is not None else 0
        supported = supported_rungs(n, n_segment, t)
        reason = _count_reason(supported[-1], n, segment, n_segment, t)
        users.append(
            recommend("user", user, n, held_users[user], supported, reason, segment=segment)
        )

    segment_users: dict[str, set[str]] = {}
    for user, values in segments_of.items():
        for value in values:
            if value is not None:
                segment_users.setdefault(value, set()).add(user)
    segments = []
    for segment in sorted(
        (s for s in set(train_segments) | set(held_segments) if s is not None),
        key=lambda s: (-train_segments[s], s),
    ):
        n = train_segments[segment]
        supported = ["zero_shot"] + (["segment_adapter"] if n >= t.segment_adapter else [])
        reason = (
            f"{_examples(n)} >= {t.segment_adapter}: enough for a segment adapter"
            if supported[-1] == "segment_adapter"
            else f"{_examples(n)} < {t.segment_adapter}: the segment's prompt template only"
        )
        users_in = len(segment_users.get(segment, ()))
        segments.append(
            recommend(
                "segment", segment, n, held_segments[segment], supported, reason, users=users_in
            )
        )
    return Plan(users=users, segments=segments, thresholds=t, measured=evaluation is not None)


def plan_dataset(
    data: str | Path,
    *,
    thresholds: LadderThresholds | None = None,
    group_by: str = "segment",
    measure: bool = True,
    registry: Any = None,
    **evaluate_options: Any,
) -> Plan:
    """`plan` for a prepared dataset; with `measure`, a validation split and production
    versions in the registry, the held-out losses of the rungs decide (see `plan`).

    >>> plan_dataset("dataset", thresholds=LadderThresholds(user_adapter=200)).as_dict()
    """
    from tailorai.training.dataset import load_dataset

    dataset = load_dataset(data)
    evaluation = None
    note = "by example counts"
    if measure and not dataset.validation:
        note = "by example counts: no validation split to measure held-out loss on"
    elif measure:
        from tailorai.training.evaluate import evaluate
        from tailorai.training.registry import Registry

        owns = registry is None
        registry = registry or Registry()
        try:
            if not registry.list(stage="production"):
                note = "by example counts: no production model versions to measure"
            else:
                evaluation = evaluate(
                    dataset.validation,
                    train=dataset.train,
                    registry=registry,
                    group_by=group_by,
                    with_rouge=False,
                    **evaluate_options,
                )
                note = (
                    f"by held-out loss on {evaluation.examples} validation examples, among "
                    "the rungs the counts support"
                )
        finally:
            if owns:
                registry.close()
    result = plan(
        dataset.train,
        dataset.validation,
        thresholds=thresholds,
        group_by=group_by,
        evaluation=evaluation,
    )
    result.note = note
    return result
