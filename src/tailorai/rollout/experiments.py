"""`Experiments`: a new model version reaches users only through a controlled experiment.

    experiments = Experiments(store, registry, project="shop")
    experiments.create("global-v2", candidate="global@2")     # control: production of its scope
    ...                                                         # the Personalizer serves arms
    experiments.evaluate("global-v2")    # promote, roll back, ramp up, or keep going

An experiment tries a candidate version against the version in production for the same scope
(`global`, `segment:NAME`, `user:ID`). While it runs, the `Personalizer` sends each request on
that scope through `arm_for`: a unit (the user id, else the anonymous id) is let in when its
bucket is within the ramp's current share of traffic and gets the arm its hash picks
(`assignment.assign`); the first arm a unit gets is stored, so it keeps it for the whole
experiment, and a request carrying both a user id and the anonymous id that was exposed before
identifying keeps the anonymous id's arm. Every generation records `experiment:arm`.

`evaluate` compares the arms per unit (a unit's click-through: any click on what it was shown;
conversion likewise; reward: the mean of its generations' rewards, see `feedback/rewards.py`),
in this order:

1. sample ratio mismatch (units per arm against the weights, chi-square p < 0.001): the split
   is broken, so the experiment stops without a decision and says so;
2. guardrails: a significant rise in the share of units with negative feedback, or a p95
   latency over `latency_ratio` times control's: rolled back;
3. the metric, with an always-valid (mSPRT) p-value that may be looked at after every batch:
   significantly worse: rolled back; significantly better: the candidate is promoted;
4. past `max_days`: stopped as inconclusive, production untouched;
5. otherwise, once every arm has `min_units` units in the current stage, the ramp advances
   (5% → 25% → 50% → 100% of traffic by default).
"""

from __future__ import annotations

import math
import re
import secrets
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Integer, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from tailorai.errors import ConfigError, RegistryError
from tailorai.rollout.assignment import assign
from tailorai.rollout.stats import (
    prob_to_beat,
    sample_ratio_mismatch,
    two_proportions,
    welch,
)
from tailorai.store.tables import (
    ExperimentRow,
    ExperimentUnitRow,
    GenerationRewardRow,
    GenerationRow,
)

__all__ = ["METRICS", "Experiment", "ExperimentSettings", "Experiments"]

METRICS = ("click", "conversion", "reward")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
CONTROL, CANDIDATE = "control", "candidate"


@dataclass
class ExperimentSettings:
    ramp: list[float] = field(default_factory=lambda: [0.05, 0.25, 0.5, 1.0])
    alpha: float = 0.05  # always-valid significance level of every test
    min_units: int = 200  # per arm in a stage before the ramp advances
    max_days: float = 14.0  # then inconclusive
    latency_ratio: float = 1.5  # candidate p95 latency over control's times this: a breach
    min_latency_samples: int = 50

    def check(self) -> None:
        ramp = self.ramp
        if not ramp or any(not 0 < r <= 1 for r in ramp) or ramp != sorted(ramp):
            raise ConfigError(
                f"ramp must be increasing traffic shares in (0, 1], e.g. [0.05, 0.25, 0.5, 1]; "
                f"got {ramp!r}."
            )
        if not 0 < self.alpha < 0.5:
            raise ConfigError(f"alpha must be between 0 and 0.5, got {self.alpha!r}.")
        if self.min_units < 1 or self.max_days <= 0 or self.latency_ratio <= 1:
            raise ConfigError(
                "min_units must be >= 1, max_days > 0 and latency_ratio > 1; got "
                f"{self.min_units!r}, {self.max_days!r}, {self.latency_ratio!r}."
            )


@dataclass
class Experiment:
    id: int
    project_id: str
    name: str
    scope: str
    salt: str
    arms: list[dict[str, Any]]  # {name, version (ref or None: the plain base), weight}
    metric: str
    settings: ExperimentSettings
    stage: int
    stage_started_at: datetime
    status: str
    state: dict[str, Any]
    decision: dict[str, Any]
    started_at: datetime
    decided_at: datetime | None

    @property
    def traffic(self) -> float:
        return self.settings.ramp[min(self.stage, len(self.settings.ramp) - 1)]

    @property
    def weights(self) -> dict[str, float]:
        return {a["name"]: float(a["weight"]) for a in self.arms}

    def version(self, arm: str) -> str | None:
        return next(a["version"] for a in self.arms if a["name"] == arm)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("stage_started_at", "started_at", "decided_at"):
            data[key] = data[key].isoformat() if data[key] else None
        data["traffic"] = self.traffic
        return data


def _utc(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


def _experiment(row: ExperimentRow) -> Experiment:
    return Experiment(
        id=row.id,
        project_id=row.project_id,
        name=row.name,
        scope=row.scope,
        salt=row.salt,
        arms=list(row.arms),
        metric=row.metric,
        settings=ExperimentSettings(**row.settings),
        stage=row.stage,
        stage_started_at=_utc(row.stage_started_at),  # type: ignore[arg-type]
        status=row.status,
        state=dict(row.state or {}),
        decision=dict(row.decision or {}),
        started_at=_utc(row.started_at),  # type: ignore[arg-type]
        decided_at=_utc(row.decided_at),
    )


class Experiments:
    def __init__(
        self, store: Any, registry: Any = None, *, project: str = "default", ttl: float = 5.0
    ) -> None:
        from tailorai.training.registry import Registry

        self.store = store
        self.project = project
        self.registry = registry or Registry(store, project=project)
        self.ttl = ttl
        self._running: dict[str, tuple[float, Experiment | None]] = {}
        self._versions: dict[str, Any] = {}
        self._lock = threading.Lock()

    # -- creating and reading ------------------------------------------------------------------

    def create(
        self,
        name: str,
        candidate: str,
        *,
        control: str | None = None,
        metric: str = "click",
        weights: tuple[float, float] = (1.0, 1.0),
        settings: ExperimentSettings | None = None,
        now: datetime | None = None,
        salt: str | None = None,
    ) -> Experiment:
        """Start trying `candidate` (a version ref) against `control` (default: the
        production version of the candidate's scope; the plain base when there is none).
        `salt` seeds the split (default: random, so experiments split independently)."""
        settings = settings or ExperimentSettings()
        settings.check()
        if not _NAME.fullmatch(name):
            raise ConfigError(f"Experiment name {name!r}: use letters, digits, '.', '_' or '-'.")
        if metric not in METRICS:
            raise ConfigError(f"metric must be one of {', '.join(METRICS)}; got {metric!r}.")
        if len(weights) != 2 or any(not (w > 0 and math.isfinite(w)) for w in weights):
            raise ConfigError(f"weights must be two positive numbers, got {weights!r}.")
        found = self.registry.get(candidate)  # RegistryError names a missing version
        if found.audit and found.audit.get("passed") is False:
            raise RegistryError(
                f"{found.ref} failed its audit ({found.audit.get('reason')}); a version that "
                "fails a gate is never tried on users. See `tailor audit --version "
                f"{found.ref}`."
            )
        if control is None:
            production = self.registry.production(found.scope)
            control_ref = production.ref if production is not None else None
        else:
            control_version = self.registry.get(control)
            if control_version.scope != found.scope:
                raise RegistryError(
                    f"{control_version.ref} serves {control_version.scope} and {found.ref} "
                    f"serves {found.scope}: an experiment compares versions of one scope."
                )
            control_ref = control_version.ref
        if control_ref == found.ref:
            raise RegistryError(f"{found.ref} is already in production; there is nothing to try.")
        now = now or datetime.now(UTC)
        with self.store.session() as s:
            clash = s.scalar(
                select(ExperimentRow.name).where(
                    ExperimentRow.project_id == self.project,
                    ExperimentRow.scope == found.scope,
                    ExperimentRow.status == "running",
                )
            )
            if clash:
                raise ConfigError(
                    f"Experiment {clash!r} already runs on {found.scope}; stop it first "
                    f"(tailor experiments stop {clash})."
                )
            if s.scalar(
                select(ExperimentRow.id).where(
                    ExperimentRow.project_id == self.project, ExperimentRow.name == name
                )
            ):
                raise ConfigError(f"An experiment named {name!r} exists; choose another name.")
            row = ExperimentRow(
                project_id=self.project,
                name=name,
                scope=found.scope,
                salt=salt or f"{name}-{secrets.token_hex(4)}",
                arms=[
                    {"name": CONTROL, "version": control_ref, "weight": float(weights[0])},
                    {"name": CANDIDATE, "version": found.ref, "weight": float(weights[1])},
                ],
                metric=metric,
                settings=asdict(settings),
                stage=0,
                stage_started_at=now,
                status="running",
                state={},
                decision={},
                started_at=now,
            )
            s.add(row)
            s.flush()
            experiment = _experiment(row)
        self._forget(found.scope)
        return experiment

    def get(self, name: str) -> Experiment:
        with self.store.session() as s:
            row = s.scalar(
                select(ExperimentRow).where(
                    ExperimentRow.project_id == self.project, ExperimentRow.name == name
                )
            )
            if row is None:
                known = ", ".join(r.name for r in self.list()) or "none"
                raise ConfigError(f"No experiment named {name!r}. Experiments: {known}.")
            return _experiment(row)

    def list(self) -> list[Experiment]:
        query = (
            select(ExperimentRow)
            .where(ExperimentRow.project_id == self.project)
            .order_by(ExperimentRow.id.desc())
        )
        with self.store.session() as s:
            return [_experiment(r) for r in s.scalars(query)]

    def running(self, scope: str) -> Experiment | None:
        """The experiment running on `scope` (cached for `ttl` seconds), or None."""
        now = time.monotonic()
        with self._lock:
            hit = self._running.get(scope)
        if hit is not None and now - hit[0] < self.ttl:
            return hit[1]
        with self.store.session() as s:
            row = s.scalar(
                select(ExperimentRow).where(
                    ExperimentRow.project_id == self.project,
                    ExperimentRow.scope == scope,
                    ExperimentRow.status == "running",
                )
            )
            found = _experiment(row) if row is not None else None
        with self._lock:
            self._running[scope] = (now, found)
        return found

    def _forget(self, scope: str) -> None:
        with self._lock:
            self._running.pop(scope, None)

    # -- serving -------------------------------------------------------------------------------

    def arm_for(
        self, experiment: Experiment, unit: str | None, anonymous_id: str | None = None
    ) -> str | None:
        """The arm `unit` is in (fixed at its first exposure), or None when it is outside the
        ramp's share of traffic (or there is no unit to assign). A unit first seen with the
        anonymous id it had before identifying keeps that id's arm."""
        if not unit:
            return None
        previous = {unit: anonymous_id} if anonymous_id and anonymous_id != unit else {}
        return self.arms_for(experiment, [unit], previous)[unit]

    def arms_for(
        self,
        experiment: Experiment,
        units: list[str],
        previous: dict[str, str] | None = None,
    ) -> dict[str, str | None]:
        """`arm_for` for many units at once: one read, one write."""
        previous = previous or {}
        keys = list({*units, *previous.values()})
        stored: dict[str, str] = {}
        with self.store.session() as s:
            for start in range(0, len(keys), 500):
                stored.update(
                    s.execute(
                        select(ExperimentUnitRow.unit, ExperimentUnitRow.arm).where(
                            ExperimentUnitRow.experiment_id == experiment.id,
                            ExperimentUnitRow.unit.in_(keys[start : start + 500]),
                        )
                    ).all()
                )
        arms: dict[str, str | None] = {}
        new = []
        for unit in units:
            if unit in stored:
                arms[unit] = stored[unit]
                continue
            arm = stored.get(previous[unit]) if unit in previous else None
            if arm is None:
                arm = assign(experiment.salt, unit, experiment.weights, experiment.traffic)
            arms[unit] = arm
            if arm is not None:
                new.append(
                    {
                        "experiment_id": experiment.id,
                        "unit": unit,
                        "arm": arm,
                        "assigned_at": datetime.now(UTC),
                    }
                )
        if new:
            with self.store.engine.begin() as connection:
                insert = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}[
                    connection.dialect.name
                ](ExperimentUnitRow)
                connection.execute(
                    insert.on_conflict_do_nothing(index_elements=["experiment_id", "unit"]), new
                )
        return arms

    def version(self, ref: str | None) -> Any:
        """The registry version of an arm (cached), None for the plain base."""
        if ref is None:
            return None
        with self._lock:
            if ref in self._versions:
                return self._versions[ref]
        version = self.registry.get(ref)
        with self._lock:
            self._versions[ref] = version
        return version

    # -- deciding ------------------------------------------------------------------------------

    def evaluate(self, name: str, *, now: datetime | None = None) -> dict[str, Any]:
        """Look at the experiment now and act: see the module docstring for the rules."""
        from tailorai.feedback import Rewards

        now = now or datetime.now(UTC)
        experiment = self.get(name)
        if experiment.status != "running":
            return experiment.decision
        Rewards(self.store).refresh(self.project)
        units = self._units(experiment)
        settings = experiment.settings
        figures = self._figures(experiment, units)
        state = experiment.state
        for key in ("metric_p", "negative_p"):
            if key in figures:
                state[key] = min(state.get(key, 1.0), figures[key])
        action, reason = "continue", "collecting data"
        srm = figures["srm"]
        control_n = figures["arms"][CONTROL]["units"]
        candidate_n = figures["arms"][CANDIDATE]["units"]
        significant = state.get("metric_p", 1.0) < settings.alpha
        if srm["alert"]:
            action, reason = (
                "stopped",
                (
                    f"sample ratio mismatch: units per arm {srm['observed']} against weights "
                    f"{experiment.weights} (p = {srm['p_value']:.2g}); the split is broken, so the "
                    "results cannot be trusted"
                ),
            )
        elif state.get("negative_p", 1.0) < settings.alpha and figures["negative_diff"] > 0:
            action, reason = (
                "rolled_back",
                (
                    "guardrail: the candidate drew significantly more negative feedback "
                    f"({figures['arms'][CANDIDATE]['negative_rate']:.1%} vs "
                    f"{figures['arms'][CONTROL]['negative_rate']:.1%} of units)"
                ),
            )
        elif figures.get("latency_breach"):
            action, reason = "rolled_back", figures["latency_breach"]
        elif significant and figures["difference"] < 0:
            action, reason = (
                "rolled_back",
                (
                    f"the candidate is significantly worse on {experiment.metric} "
                    f"({figures['difference']:+.4f}, always-valid p = {state['metric_p']:.3g})"
                ),
            )
        elif significant and figures["difference"] > 0:
            action, reason = (
                "promoted",
                (
                    f"the candidate is significantly better on {experiment.metric} "
                    f"({figures['difference']:+.4f}, always-valid p = {state['metric_p']:.3g})"
                ),
            )
        elif (now - experiment.started_at).total_seconds() >= settings.max_days * 86_400:
            action, reason = (
                "inconclusive",
                (
                    f"no significant difference after {settings.max_days:g} days "
                    f"(always-valid p = {state.get('metric_p', 1.0):.3g}); production unchanged"
                ),
            )
        elif (
            experiment.stage < len(settings.ramp) - 1
            and min(figures["stage_units"].values(), default=0) >= settings.min_units
        ):
            action = "ramp"
            reason = (
                f"guardrails hold with {control_n} and {candidate_n} units: traffic "
                f"{experiment.traffic:.0%} -> {settings.ramp[experiment.stage + 1]:.0%}"
            )
        decision = {
            "action": action,
            "reason": reason,
            "at": now.isoformat(),
            **figures,
            "always_valid_p": state.get("metric_p", 1.0),
        }
        self._apply(experiment, action, decision, state, now)
        return _finite(decision)

    def stop(self, name: str, reason: str = "stopped by hand", *, now: datetime | None = None):
        experiment = self.get(name)
        if experiment.status != "running":
            raise ConfigError(f"Experiment {name!r} is not running (it is {experiment.status}).")
        now = now or datetime.now(UTC)
        decision = {
            **experiment.decision,
            "action": "stopped",
            "reason": reason,
            "at": now.isoformat(),
        }
        self._apply(experiment, "stopped", decision, experiment.state, now)
        return self.get(name)

    def _apply(
        self,
        experiment: Experiment,
        action: str,
        decision: dict[str, Any],
        state: dict[str, Any],
        now: datetime,
    ) -> None:
        if action == "promoted":
            candidate = self.registry.get(experiment.version(CANDIDATE))
            if candidate.audit and candidate.audit.get("passed") is False:
                # Audited again while it ran, and failed: it never reaches production.
                action = "rolled_back"
                decision = {
                    **decision,
                    "action": action,
                    "reason": f"the candidate failed its audit: {candidate.audit.get('reason')}",
                }
            else:
                self.registry.promote(candidate.ref)
        values: dict[str, Any] = {"decision": _finite(decision), "state": state}
        if action == "ramp":
            values.update(stage=experiment.stage + 1, stage_started_at=now)
        elif action != "continue":
            values.update(status=action, decided_at=now)
        with self.store.engine.begin() as connection:
            connection.execute(
                update(ExperimentRow).where(ExperimentRow.id == experiment.id).values(**values)
            )
        self._forget(experiment.scope)

    def _units(self, experiment: Experiment) -> list[tuple[Any, ...]]:
        """Per (arm, unit): clicked, converted, mean reward, negative, first exposure."""
        prefix = f"{experiment.name}:"
        query = (
            select(
                GenerationRow.experiment_arm,
                GenerationRow.user_key,
                func.max(func.coalesce(GenerationRewardRow.clicked, False).cast(Integer)),
                func.max(func.coalesce(GenerationRewardRow.converted, False).cast(Integer)),
                func.avg(func.coalesce(GenerationRewardRow.reward, 0.0)),
                func.max(func.coalesce(GenerationRewardRow.negative, False).cast(Integer)),
                func.min(GenerationRow.created_at),
            )
            .outerjoin(GenerationRewardRow, GenerationRewardRow.generation_id == GenerationRow.id)
            .where(
                GenerationRow.project_id == experiment.project_id,
                GenerationRow.experiment_arm.in_([prefix + CONTROL, prefix + CANDIDATE]),
            )
            .group_by(GenerationRow.experiment_arm, GenerationRow.user_key)
        )
        with self.store.session() as s:
            return list(s.execute(query).all())

    def _figures(self, experiment: Experiment, units: list[tuple[Any, ...]]) -> dict[str, Any]:
        arms: dict[str, dict[str, Any]] = {
            arm: {"units": 0, "successes": 0, "rewards": [], "negative": 0}
            for arm in (CONTROL, CANDIDATE)
        }
        stage_units = {CONTROL: 0, CANDIDATE: 0}
        for arm_label, _, clicked, converted, reward, negative, first in units:
            arm = arm_label.split(":", 1)[1]
            a = arms[arm]
            a["units"] += 1
            a["successes"] += int(clicked if experiment.metric == "click" else converted or 0)
            a["rewards"].append(float(reward or 0.0))
            a["negative"] += int(negative or 0)
            if _utc(first) >= experiment.stage_started_at:
                stage_units[arm] += 1
        c, t = arms[CONTROL], arms[CANDIDATE]
        figures: dict[str, Any] = {"stage_units": stage_units, "traffic": experiment.traffic}
        if experiment.metric == "reward":
            result = welch(*_moments(c["rewards"]), *_moments(t["rewards"]))
        else:
            result = two_proportions(c["successes"], c["units"], t["successes"], t["units"])
        figures.update(
            difference=result.difference,
            confidence_sequence=list(result.confidence_sequence),
            metric_p=result.always_valid_p,
        )
        if experiment.metric != "reward":
            bayes = prob_to_beat(
                c["successes"], c["units"], t["successes"], t["units"], draws=20_000
            )
            figures["prob_candidate_beats_control"] = bayes.prob_b_beats_a
        negative = two_proportions(c["negative"], c["units"], t["negative"], t["units"])
        figures.update(negative_p=negative.always_valid_p, negative_diff=negative.difference)
        srm = sample_ratio_mismatch(
            {CONTROL: c["units"], CANDIDATE: t["units"]}, experiment.weights
        )
        figures["srm"] = {
            "observed": srm.observed,
            "p_value": srm.p_value,
            "alert": srm.alert,
        }
        latency = self._latency(experiment)
        figures["latency_p95_ms"] = latency
        settings = experiment.settings
        if all(v is not None for v in latency.values()) and latency[CANDIDATE] > (
            settings.latency_ratio * latency[CONTROL]
        ):
            figures["latency_breach"] = (
                f"guardrail: the candidate's p95 latency {latency[CANDIDATE]:.0f} ms is over "
                f"{settings.latency_ratio:g}x control's {latency[CONTROL]:.0f} ms"
            )
        for arm, a in arms.items():
            n = a["units"]
            figures.setdefault("arms", {})[arm] = {
                "version": experiment.version(arm),
                "units": n,
                "rate": a["successes"] / n if n else 0.0,
                "mean_reward": sum(a["rewards"]) / n if n else 0.0,
                "negative_rate": a["negative"] / n if n else 0.0,
            }
        return figures

    def _latency(self, experiment: Experiment) -> dict[str, float | None]:
        found: dict[str, float | None] = {}
        with self.store.session() as s:
            for arm in (CONTROL, CANDIDATE):
                values = sorted(
                    s.scalars(
                        select(GenerationRow.latency_ms).where(
                            GenerationRow.project_id == experiment.project_id,
                            GenerationRow.experiment_arm == f"{experiment.name}:{arm}",
                        )
                    )
                )
                found[arm] = (
                    values[min(len(values) - 1, int(0.95 * len(values)))]
                    if len(values) >= experiment.settings.min_latency_samples
                    else None
                )
        return found


def _finite(value: Any) -> Any:
    """`value` with infinite or NaN floats as None: JSON (and PostgreSQL) have no infinity."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def _moments(values: list[float]) -> tuple[float, float, int]:
    n = len(values)
    if n == 0:
        return 0.0, 0.0, 0
    mean = sum(values) / n
    variance = sum((v - mean) ** 2 for v in values) / (n - 1) if n > 1 else 0.0
    return mean, variance, n
