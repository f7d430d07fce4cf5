"""`RetrainFlow`: from new data and feedback to a candidate version in an experiment.

    flow = RetrainFlow(store, project="shop", config=RetrainConfig(sources=["new_chats.jsonl"]))
    run = flow.run(trigger="manual")        # a plain function: cron, Airflow or Prefect call it

One run, step by step, each recorded in `retrain_runs` with its output:

1. gather: the new conversations (`sources`) and the corrections users made since the last
   run (`feedback.pairs.export_corrections`) into the run's folder;
2. prepare: the data preparation pipeline (clean, de-duplicate, anonymize, format, split);
   fewer than `min_new_examples` examples: the run is skipped, with the reason;
3. finetune: a candidate adapter from the production version of the scope (`init_from`); one
   that does not beat its starting point is not registered, and the run is skipped;
4. evaluate: candidate against production on the held-out split and on the corrected texts
   (mean loss per reply token); worse on held-out data: skipped;
5. gates: every gate in `gates` must pass, else the run is skipped, the reason kept on the run
   and on the candidate version (which can then never be promoted); `tailor retrain` passes
   `audit.gates.audit_gate`, the whole audit, unless `audit: false`;
6. experiment: an experiment starts, candidate against production; it promotes or rolls back
   on its own as `Experiments.evaluate` looks at it (`tailor retrain --every` does each tick).

A run that crashes stays `failed` with the step that failed; the next `run` resumes it from
that step (finished steps are never redone, so nothing is trained or registered twice).
Production changes only through the experiment's promotion.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from sqlalchemy import select, update

from tailorai.config_section import ConfigSection, option
from tailorai.errors import DataError
from tailorai.store.tables import RetrainRunRow

__all__ = ["STEPS", "GateResult", "RetrainConfig", "RetrainFlow"]

STEPS = ("gather", "prepare", "finetune", "evaluate", "gates", "experiment")


@dataclass
class RetrainConfig(ConfigSection):
    yaml_section: ClassVar[str] = "retrain"
    scope: str = option("The scope to retrain: global, segment:NAME or user:ID.", "global")
    sources: list[str] = option("New conversation files or folders to learn from.", factory=list)
    min_new_examples: int = option("Skip the run with fewer new training examples.", 20)
    method: str = option("lora or dora (an adapter on the base).", "lora")
    epochs: int = option("Training epochs.", 2)
    learning_rate: float | None = option(
        "Peak learning rate of the fine-tune; the method's default (TrainConfig) when unset.", None
    )
    max_examples: int | None = option("Train on at most this many examples.", None)
    max_eval: int = option("Held-out examples scored per model.", 200)
    metric: str = option("The experiment's metric: click, conversion or reward.", "click")
    ramp: list[float] = option(
        "The experiment's traffic ramp.", factory=lambda: [0.05, 0.25, 0.5, 1.0]
    )
    min_units: int = option("Units per arm in a stage before the ramp advances.", 200)
    max_days: float = option("Days before the experiment stops as inconclusive.", 14.0)
    experiment_salt: str | None = option(
        "Seeds the experiments' splits (with the run id); random when unset.", None
    )
    audit: bool = option(
        "Run `tailor audit` on the candidate as a gate (thresholds: the audit section).", True
    )
    canaries: int = option("Canaries planted in the candidate's training copy, for the audit.", 4)


@dataclass(frozen=True, slots=True)
class GateResult:
    name: str
    passed: bool
    figure: float | None = None
    threshold: float | None = None
    evidence: str = ""


# A gate judges a candidate against production: (candidate, production or None, context).
Gate = Callable[[Any, Any, dict[str, Any]], GateResult]


class _Skip(Exception):
    """A step found a reason not to go on; the run ends `skipped` with it."""


@dataclass
class RetrainRun:
    id: int
    project_id: str
    scope: str
    trigger: str
    status: str
    steps: dict[str, Any] = field(default_factory=dict)
    reason: str | None = None

    def output(self, step: str) -> dict[str, Any]:
        return self.steps.get(step, {}).get("output", {})

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "project_id": self.project_id,
            "scope": self.scope,
            "trigger": self.trigger,
            "status": self.status,
            "steps": self.steps,
            "reason": self.reason,
        }


def _run(row: RetrainRunRow) -> RetrainRun:
    return RetrainRun(
        row.id, row.project_id, row.scope, row.trigger, row.status, dict(row.steps), row.reason
    )


class RetrainFlow:
    def __init__(
        self,
        store: Any,
        *,
        project: str = "default",
        home: Path | None = None,
        registry: Any = None,
        config: RetrainConfig | None = None,
        gates: Sequence[Gate] = (),
        log: Callable[[str], None] = lambda message: None,
    ) -> None:
        from tailorai.settings import get_settings
        from tailorai.training.registry import Registry

        self.store = store
        self.project = project
        self.home = Path(home or get_settings().home)
        self.registry = registry or Registry(store, home=self.home, project=project)
        self.config = config or RetrainConfig()
        self.gates = list(gates)
        self.log = log

    # -- runs ----------------------------------------------------------------------------------

    def run(
        self,
        trigger: str = "manual",
        *,
        resume: bool = True,
        execute: Callable[[RetrainRun, str], str] | None = None,
    ) -> RetrainRun:
        """Run the flow (resuming the scope's unfinished run when there is one) and return the
        run as recorded. `execute(run, step)` runs one step (default `self.step`): Prefect
        passes a task with retries."""
        run = self.begin(trigger, resume=resume)
        for name in STEPS:
            if (execute or self.step)(run, name) == "skipped":
                return run
        return self.finish(run)

    def begin(self, trigger: str = "manual", *, resume: bool = True) -> RetrainRun:
        """The scope's unfinished run to resume, or a new one."""
        run = self._unfinished() if resume else None
        if run is None:
            return self._start(trigger)
        self.log(f"Resuming retrain run {run.id} after {self._last_done(run) or 'nothing'}")
        return run

    def step(self, run: RetrainRun, name: str) -> str:
        """Run one step of `run` unless it is done; "done" or "skipped" (the run ended, with
        the reason). A step that raises is recorded as failed, the run too, and re-raised."""
        if run.steps.get(name, {}).get("status") == "done":
            return "done"
        self._record(run, name, {"status": "running", "started_at": _now()})
        try:
            output = getattr(self, f"_{name}")(run)
        except _Skip as skip:
            self._record(run, name, {"status": "skipped", "finished_at": _now()})
            self._finish(run, "skipped", str(skip))
            return "skipped"
        except Exception as exc:
            self._record(
                run, name, {"status": "failed", "error": f"{type(exc).__name__}: {exc}"[:2000]}
            )
            self._finish(run, "failed", f"{name} failed: {exc}"[:2000])
            raise
        self._record(run, name, {"status": "done", "finished_at": _now(), "output": output})
        self.log(f"{name}: {json.dumps(output, default=str)[:200]}")
        return "done"

    def runs(self, limit: int = 20) -> list[RetrainRun]:
        query = (
            select(RetrainRunRow)
            .where(RetrainRunRow.project_id == self.project)
            .order_by(RetrainRunRow.id.desc())
            .limit(limit)
        )
        with self.store.session() as s:
            return [_run(r) for r in s.scalars(query)]

    def last_finished(self) -> datetime | None:
        """When the scope's last run that got a candidate into an experiment started."""
        with self.store.session() as s:
            when = s.scalar(
                select(RetrainRunRow.created_at)
                .where(
                    RetrainRunRow.project_id == self.project,
                    RetrainRunRow.scope == self.config.scope,
                    RetrainRunRow.status == "done",
                )
                .order_by(RetrainRunRow.id.desc())
                .limit(1)
            )
        return when.replace(tzinfo=UTC) if when is not None and when.tzinfo is None else when

    def _unfinished(self) -> RetrainRun | None:
        with self.store.session() as s:
            row = s.scalar(
                select(RetrainRunRow)
                .where(
                    RetrainRunRow.project_id == self.project,
                    RetrainRunRow.scope == self.config.scope,
                )
                .order_by(RetrainRunRow.id.desc())
                .limit(1)
            )
            return _run(row) if row is not None and row.status in ("running", "failed") else None

    def _start(self, trigger: str) -> RetrainRun:
        with self.store.session() as s:
            row = RetrainRunRow(
                project_id=self.project,
                scope=self.config.scope,
                trigger=trigger,
                status="running",
                steps={},
                created_at=datetime.now(UTC),
                updated_at=datetime.now(UTC),
            )
            s.add(row)
            s.flush()
            return _run(row)

    def _record(self, run: RetrainRun, step: str, values: dict[str, Any]) -> None:
        run.steps[step] = {**run.steps.get(step, {}), **values}
        if values.get("status") == "running":
            run.steps[step].pop("error", None)
        self._save(run, status="running")

    def finish(self, run: RetrainRun) -> RetrainRun:
        """Mark a run whose every step is done as done."""
        return self._finish(run, "done", "experiment started")

    def _finish(self, run: RetrainRun, status: str, reason: str) -> RetrainRun:
        run.status, run.reason = status, reason
        self._save(run, status=status, reason=reason)
        self.log(f"Retrain run {run.id}: {status} ({reason})")
        return run

    def _save(self, run: RetrainRun, **values: Any) -> None:
        with self.store.engine.begin() as connection:
            connection.execute(
                update(RetrainRunRow)
                .where(RetrainRunRow.id == run.id)
                .values(
                    steps=json.loads(json.dumps(run.steps, default=str)),
                    updated_at=datetime.now(UTC),
                    **values,
                )
            )

    @staticmethod
    def _last_done(run: RetrainRun) -> str | None:
        done = [s for s in STEPS if run.steps.get(s, {}).get("status") == "done"]
        return done[-1] if done else None

    def folder(self, run: RetrainRun) -> Path:
        return self.home / "retrain" / self.project / str(run.id)

    # -- steps ---------------------------------------------------------------------------------

    def _gather(self, run: RetrainRun) -> dict[str, Any]:
        folder = self.folder(run) / "gathered"
        folder.mkdir(parents=True, exist_ok=True)
        since = self.last_finished()
        corrections_file = folder / "corrections.jsonl"
        corrections = 0
        try:
            from tailorai.feedback.pairs import export_corrections
        except ImportError:  # pragma: no cover - shipped with the package
            export_corrections = None
        if export_corrections is not None:
            report = export_corrections(self.store, self.project, corrections_file, since=since)
            corrections = int(report.get("examples", report.get("written", 0)) or 0)
        sources = []
        for source in self.config.sources:
            path = Path(source).expanduser()
            if not path.exists():
                raise DataError(
                    f"Retrain source {path} does not exist. Pass the files of new conversations "
                    "(retrain.sources in tailor.yaml, or --source)."
                )
            sources.append(str(path.resolve()))
        inputs = sources + ([str(corrections_file)] if corrections else [])
        if not inputs:
            raise _Skip(
                "no new data: no new conversation files were given and no user corrected an "
                f"output since {since.isoformat() if since else 'the start'}; production untouched"
            )
        return {"inputs": inputs, "corrections": corrections, "since": since}

    def _prepare(self, run: RetrainRun) -> dict[str, Any]:
        from tailorai.data import prepare
        from tailorai.data.config import PrepareConfig

        out = self.folder(run) / "dataset"
        inputs = [Path(p) for p in run.output("gather")["inputs"]]
        from tailorai.privacy import forgotten_hashes

        # Users erased since the sources were written stay out of the retrain.
        forgotten = (self.project, forgotten_hashes(self.store, self.project))
        report = prepare(inputs, out, PrepareConfig(), forgotten=forgotten)
        examples = int(report["examples"].get("train", 0))
        if examples < self.config.min_new_examples:
            raise _Skip(
                f"too little new data: {examples} training examples after preparation, "
                f"under min_new_examples={self.config.min_new_examples}; production untouched"
            )
        return {
            "dataset": str(out),
            "examples": examples,
            "validation": int(report["examples"].get("validation", 0)),
            "dataset_id": report.get("dataset_id"),
        }

    def _finetune(self, run: RetrainRun) -> dict[str, Any]:
        from tailorai.errors import NotImprovedError
        from tailorai.training.config import TrainConfig
        from tailorai.training.job import train

        production = self.registry.production(self.config.scope)
        name = production.name if production is not None else _name(self.config.scope)
        config = TrainConfig(
            data=run.output("prepare")["dataset"],
            method=self.config.method,
            scope=self.config.scope,
            name=name,
            init_from=production.ref
            if production is not None and production.adapter_path
            else None,
            epochs=self.config.epochs,
            learning_rate=self.config.learning_rate,
            max_examples=self.config.max_examples,
            canaries=self.config.canaries,
        )
        try:
            [candidate] = train(config, registry=self.registry, progress=False)
        except NotImprovedError as exc:
            raise _Skip(f"the candidate did not improve on its starting point: {exc}") from exc
        return {
            "candidate": candidate.ref,
            "production": production.ref if production is not None else None,
            "eval_loss": candidate.metrics.get("eval_loss"),
        }

    def _evaluate(self, run: RetrainRun) -> dict[str, Any]:
        from tailorai.models import load_version

        dataset = Path(run.output("prepare")["dataset"])
        held_out = _conversations(dataset / "validation.jsonl", self.config.max_eval)
        corrected = _conversations(
            self.folder(run) / "gathered" / "corrections.jsonl", self.config.max_eval
        )
        candidate = self.registry.get(run.output("finetune")["candidate"])
        production_ref = run.output("finetune")["production"]
        production = self.registry.get(production_ref) if production_ref else None
        scores: dict[str, dict[str, float | None]] = {}
        for label, version in (("candidate", candidate), ("production", production)):
            model, tokenizer = load_version(version, base_model=candidate.base_model)
            template = version.chat_template if version is not None else None
            scores[label] = {
                "held_out_loss": _mean_loss(model, tokenizer, held_out, template),
                "corrections_loss": _mean_loss(model, tokenizer, corrected, template),
            }
        new, old = scores["candidate"]["held_out_loss"], scores["production"]["held_out_loss"]
        if new is not None and old is not None and new > old:
            raise _Skip(
                f"the candidate is worse than production on held-out data (loss {new:.4f} vs "
                f"{old:.4f} per token); production untouched"
            )
        return {"held_out_examples": len(held_out), "corrections": len(corrected), **scores}

    def _gates(self, run: RetrainRun) -> dict[str, Any]:
        candidate = self.registry.get(run.output("finetune")["candidate"])
        production_ref = run.output("finetune")["production"]
        production = self.registry.get(production_ref) if production_ref else None
        context = {
            "run": run.as_dict(),
            "dataset": run.output("prepare")["dataset"],
            "folder": str(self.folder(run)),
        }
        gates = list(self.gates)
        if self.config.audit:
            from tailorai.audit.gates import audit_gate

            gates.append(audit_gate(self.store, project=self.project, log=self.log))
        results = [gate(candidate, production, context) for gate in gates]
        failed = [r for r in results if not r.passed]
        output = {"gates": [_gate(r) for r in results]}
        if failed:
            names = ", ".join(f"{r.name} ({r.evidence})" if r.evidence else r.name for r in failed)
            # On the version too, so it can never be promoted or tried by hand either.
            self.registry.record_audit(
                candidate.ref,
                {"passed": False, "reason": f"retrain run {run.id}: {names}", "at": _now()},
            )
            raise _Skip(f"audit gates failed: {names}; the candidate is not rolled out")
        return output

    def _experiment(self, run: RetrainRun) -> dict[str, Any]:
        from tailorai.rollout.experiments import Experiments, ExperimentSettings

        candidate = run.output("finetune")["candidate"]
        settings = ExperimentSettings(
            ramp=list(self.config.ramp),
            min_units=self.config.min_units,
            max_days=self.config.max_days,
        )
        experiments = Experiments(self.store, self.registry, project=self.project)
        name = f"retrain-{run.id}"
        try:
            experiments.get(name)  # resumed after the experiment was made: keep it
        except Exception:
            salt = (
                f"{self.config.experiment_salt}-{run.id}" if self.config.experiment_salt else None
            )
            experiments.create(
                name, candidate, metric=self.config.metric, settings=settings, salt=salt
            )
        return {"experiment": name, "candidate": candidate}


def _gate(result: GateResult) -> dict[str, Any]:
    return {
        "name": result.name,
        "passed": result.passed,
        "figure": result.figure,
        "threshold": result.threshold,
        "evidence": result.evidence,
    }


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _name(scope: str) -> str:
    return "global" if scope == "global" else scope.replace(":", "-")


def _conversations(path: Path, limit: int) -> list[list[dict[str, str]]]:
    """Up to `limit` message lists that end with an assistant reply."""
    if not path.is_file():
        return []
    found = []
    with path.open(encoding="utf-8") as f:
        for line in f:
            try:
                messages = json.loads(line).get("messages") or []
            except (ValueError, AttributeError):
                continue
            if messages and messages[-1].get("role") == "assistant":
                found.append([{"role": m["role"], "content": m["content"]} for m in messages])
            if len(found) >= limit:
                break
    return found


def _mean_loss(model: Any, tokenizer: Any, conversations: list[Any], template: Any) -> float | None:
    from tailorai.training.evaluate import reply_nll

    if not conversations:
        return None
    scored = reply_nll(model, tokenizer, conversations, template=template)
    tokens = sum(n for _, n in scored)
    loss = sum(nll for nll, _ in scored) / tokens if tokens else None
    return loss if loss is None or math.isfinite(loss) else None
