"""When to retrain: on a schedule, or when feedback says so; and the loop that does it.

    due, why = triggered(store, "shop", since, min_feedback=50, reward_drop=0.2)
    tick(flow, min_feedback=50)          # evaluate running experiments, retrain when due
    every("6h") -> 21600.0

Thresholds: `min_feedback` new explicit feedback items since the last run, or a `reward_drop`:
the mean reward of the generations of the last `window` below the window before it by that
much (absolute, in reward units). Each tick first looks at every running experiment (so they
promote or roll back on their own), then runs the flow when it is due.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from tailorai.errors import ConfigError
from tailorai.store.tables import FeedbackRow, GenerationRewardRow, GenerationRow

__all__ = ["evaluate_experiments", "every", "run_forever", "tick", "triggered"]

_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smhd])")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86_400}


def every(text: str) -> float:
    """Seconds in a duration such as `6h`, `30m`, `1d` or `1h30m`."""
    parts = _DURATION.findall(text.strip().lower())
    if not parts or _DURATION.sub("", text.strip().lower()).strip():
        raise ConfigError(f"--every takes a duration such as 6h, 30m or 1d; got {text!r}.")
    seconds = sum(float(n) * _UNIT[unit] for n, unit in parts)
    if seconds <= 0:
        raise ConfigError(f"--every must be longer than nothing; got {text!r}.")
    return seconds


def triggered(
    store: Any,
    project: str,
    since: datetime | None,
    *,
    min_feedback: int | None = None,
    reward_drop: float | None = None,
    window: timedelta = timedelta(days=1),
    now: datetime | None = None,
) -> tuple[bool, str]:
    """Whether feedback calls for a retrain now, and why (or why not)."""
    now = now or datetime.now(UTC)
    reasons = []
    with store.session() as s:
        if min_feedback is not None:
            query = select(func.count()).where(FeedbackRow.project_id == project)
            if since is not None:
                query = query.where(FeedbackRow.created_at > since)
            count = int(s.scalar(query) or 0)
            if count >= min_feedback:
                return True, f"{count} new feedback items >= {min_feedback}"
            reasons.append(f"{count} new feedback items < {min_feedback}")
        if reward_drop is not None:
            means = []
            for start in (now - window, now - 2 * window):
                means.append(
                    s.scalar(
                        select(func.avg(GenerationRewardRow.reward))
                        .join(GenerationRow, GenerationRow.id == GenerationRewardRow.generation_id)
                        .where(
                            GenerationRewardRow.project_id == project,
                            GenerationRow.created_at >= start,
                            GenerationRow.created_at < start + window,
                        )
                    )
                )
            recent, before = means
            if recent is not None and before is not None:
                drop = float(before) - float(recent)
                if drop >= reward_drop:
                    return (
                        True,
                        f"mean reward fell {drop:.3f} >= {reward_drop} "
                        f"({before:.3f} -> {recent:.3f})",
                    )
                reasons.append(f"mean reward moved {-drop:+.3f}, not a drop of {reward_drop}")
            else:
                reasons.append("not enough rewarded generations to compare two windows")
    if min_feedback is None and reward_drop is None:
        return True, "scheduled"
    return False, "; ".join(reasons)


def tick(
    flow: Any,
    *,
    min_feedback: int | None = None,
    reward_drop: float | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """One round: look at the running experiments, then retrain if it is due."""
    decisions = evaluate_experiments(flow, now=now)
    due, why = triggered(
        flow.store,
        flow.project,
        flow.last_finished(),
        min_feedback=min_feedback,
        reward_drop=reward_drop,
        now=now,
    )
    run = flow.run(trigger=why) if due else None
    return {
        "experiments": decisions,
        "due": due,
        "why": why,
        "run": run.as_dict() if run is not None else None,
    }


def evaluate_experiments(flow: Any, *, now: datetime | None = None) -> dict[str, str]:
    """Look at every running experiment of the flow's project; their actions by name."""
    from tailorai.feedback import Rewards
    from tailorai.rollout.experiments import Experiments

    Rewards(flow.store).refresh(flow.project)
    experiments = Experiments(flow.store, flow.registry, project=flow.project)
    return {
        e.name: experiments.evaluate(e.name, now=now)["action"]
        for e in experiments.list()
        if e.status == "running"
    }


def run_forever(
    step: Callable[[], Any], seconds: float, *, rounds: int | None = None, sleep=time.sleep
) -> None:
    """Call `step` every `seconds` (`rounds` times, or until interrupted); a failing round is
    logged by the caller and the loop goes on."""
    done = 0
    while rounds is None or done < rounds:
        started = time.monotonic()
        step()
        done += 1
        if rounds is not None and done >= rounds:
            break
        sleep(max(0.0, seconds - (time.monotonic() - started)))
