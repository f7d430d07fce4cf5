"""A simulated population on the real experiment machinery: does the rollout decide right?

Every day `users_per_day` new users arrive, each in one of three segments whose click-through
on the current model is `BASE_CTR`. Each asks for content once. The `Experiments` assignment
decides who is in the experiment (the ramp's share of traffic) and on which arm; a generation
record is stored for each exposure as the `Personalizer` stores it (the model itself is not
run: what it writes does not change a simulated click, and thousands of seeded runs must stay
fast; `tests/rollout/test_experiments.py` drives the real `Personalizer`); the simulated user
clicks with their segment's probability, times `1 + lift` on the candidate arm; shown and
clicked events go through the event stream with the generation id; then `evaluate` looks, once
a day, and acts: ramp up, promote, roll back, stop.

`srm` drops that share of the candidate's exposures from the log, like a redirect or logging bug
that loses some users of one arm: the sample-ratio check must stop the experiment.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

__all__ = ["BASE_CTR", "RolloutResult", "simulate_rollout"]

BASE_CTR = {"casual": 0.06, "browsers": 0.10, "power": 0.18}
SHARES = {"casual": 0.5, "browsers": 0.35, "power": 0.15}
COMPLAINTS = 0.02  # thumbs down on control


@dataclass
class RolloutResult:
    lift: float
    srm: float
    outcome: str  # promoted, rolled_back, inconclusive, stopped
    reason: str
    days: int
    units: dict[str, int]
    rates: dict[str, float]
    always_valid_p: float
    srm_flagged: bool
    ramp: list[float] = field(default_factory=list)  # traffic share on each day
    complaints: float = 0.0
    slower: float = 1.0

    @property
    def expected(self) -> str:
        if self.srm > 0:
            return "stopped"
        if self.complaints > 0 or self.slower > 1:
            return "rolled_back"
        if self.lift > 0:
            return "promoted"
        if self.lift < 0:
            return "rolled_back"
        return "inconclusive"

    @property
    def correct(self) -> bool:
        return self.outcome == self.expected


def _versions(store: Any, project: str, home: Any) -> tuple[Any, str, str]:
    """A registry with a production version and a candidate of the same scope."""
    import json
    import tempfile
    from pathlib import Path

    from tailorai.training.registry import Registry

    registry = Registry(store, home=home, project=project)
    refs = []
    for _ in range(2):
        run = Path(tempfile.mkdtemp(dir=home))
        (run / "adapter").mkdir()
        (run / "adapter" / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA"}))
        (run / "adapter" / "adapter_model.safetensors").write_bytes(b"")
        (run / "metrics.json").write_text(json.dumps({"eval_loss": 1.0}))
        version = registry.register(
            "simulated", run, scope="global", method="lora", base_model="stories260k"
        )
        refs.append(version.ref)
    registry.promote(refs[0])
    return registry, refs[0], refs[1]


def simulate_rollout(
    store: Any,
    home: Any,
    *,
    lift: float,
    srm: float = 0.0,
    complaints: float = 0.0,
    slower: float = 1.0,
    seed: int = 0,
    users_per_day: int = 4000,
    max_days: int = 21,
    project: str = "simulation",
    settings: Any = None,
) -> RolloutResult:
    """Run one experiment to its decision (or `max_days`) and report it.

    `complaints` raises the candidate's thumbs-down rate (2% on control) by that share, and
    `slower` multiplies its latency: both are guardrail breaches to roll back on."""
    from tailorai.events.schema import parse_event
    from tailorai.events.sql_stream import SqlEventStream
    from tailorai.generation.generation_log import GenerationLog, new_generation_id
    from tailorai.projects import ensure_project
    from tailorai.records import Generation
    from tailorai.rollout.experiments import Experiments, ExperimentSettings

    ensure_project(store, project)
    registry, _, candidate = _versions(store, project, home)
    experiments = Experiments(store, registry, project=project, ttl=0)
    settings = settings or ExperimentSettings(min_units=200, max_days=max_days)
    name = f"sim-{seed}-{datetime.now(UTC).strftime('%H%M%S%f')}"
    start = datetime.now(UTC)  # simulated days count from here, in every record's time
    salt = f"simulation-{seed}-{lift}-{srm}-{complaints}-{slower}"
    experiments.create(name, candidate, settings=settings, now=start, salt=salt)
    rng = np.random.default_rng(seed)
    log, stream = GenerationLog(store), SqlEventStream(store)
    segments, shares = list(SHARES), np.asarray(list(SHARES.values()))
    ramp, decision, day = [], {}, 0
    for day in range(1, max_days + 1):
        experiment = experiments.get(name)
        ramp.append(experiment.traffic)
        records, events = [], []
        received = datetime.now(UTC)
        arrivals = [f"d{day}-u{index}" for index in range(users_per_day)]
        for user, arm in experiments.arms_for(experiment, arrivals).items():
            if arm is None:
                continue  # outside the ramp's share: production, not in the experiment
            if arm == "candidate" and srm and rng.random() < srm:
                continue  # lost by a logging bug
            segment = segments[rng.choice(len(segments), p=shares)]
            candidate_arm = arm == "candidate"
            chance = BASE_CTR[segment] * (1 + lift if candidate_arm else 1)
            generation_id = new_generation_id()
            records.append(
                Generation(
                    id=generation_id,
                    project_id=project,
                    task="product_description",
                    rung="zero_shot",
                    output="...",
                    backend="simulation",
                    user_id=user,
                    segment=segment,
                    model_version=experiment.version(arm),
                    experiment_arm=f"{name}:{arm}",
                    latency_ms=float(rng.gamma(4.0, 5.0)) * (slower if candidate_arm else 1),
                    created_at=start + timedelta(days=day - 1, seconds=len(records)),
                )
            )
            props = {"generation_id": generation_id}
            shown = {"type": "track", "userId": user, "properties": props}
            events.append(parse_event({**shown, "event": "Content Shown"}, received))
            if rng.random() < chance:
                events.append(parse_event({**shown, "event": "Content Clicked"}, received))
            if rng.random() < COMPLAINTS * (1 + complaints if candidate_arm else 1):
                thumbs = {**props, "thumbs": "down"}
                events.append(
                    parse_event(
                        {
                            "type": "feedback",
                            "userId": user,
                            "event": "Feedback",
                            "properties": thumbs,
                        },
                        received,
                    )
                )
        log.add_many(records)
        stream.append(project, events)
        decision = experiments.evaluate(name, now=start + timedelta(days=day))
        if decision["action"] not in ("continue", "ramp"):
            break
    final = experiments.get(name)
    arms = decision.get("arms", {})
    return RolloutResult(
        lift=lift,
        srm=srm,
        outcome=final.status if final.status != "running" else "inconclusive",
        reason=decision.get("reason", ""),
        days=day,
        units={arm: figures["units"] for arm, figures in arms.items()},
        rates={arm: figures["rate"] for arm, figures in arms.items()},
        always_valid_p=decision.get("always_valid_p", 1.0),
        srm_flagged=bool(decision.get("srm", {}).get("alert")),
        ramp=ramp,
        complaints=complaints,
        slower=slower,
    )
