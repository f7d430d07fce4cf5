"""A simulated support chatbot on the real system: do escalations fall as it retrains on feedback?

Each cycle stands for a week of support traffic. `customers` new customers each ask one question
from the shipped Bitext sample (a slice of its own per cycle, from a few intents) through the
real `Personalizer.chat`, so the model in production answers, or, while the experiment the last
retrain started runs, the arm the customer is assigned to. A customer is satisfied (5 stars)
when the reply's ROUGE-L F1 against the human agent's answer reaches `threshold`; otherwise they
rate it 1 star and the conversation escalates to an agent, whose answer (the Bitext reference
response, cut at a sentence end near `ANSWER_CHARS`) is recorded as the correction. Every rating
and correction goes through `FeedbackLog`, so rewards are the real ones (+1 satisfied, -1.5
escalated: 1 star and corrected).

After the week the running experiment is evaluated on the reward metric as of its end (the
experiment's `max_days` is one cycle): promoted or rolled back when the always-valid test is
significant, otherwise stopped as inconclusive by its own rule, so the next retrain may start a
new one. Then `RetrainFlow` gathers the week's corrections, fine-tunes a candidate from
production, checks it on held-out corrections and starts the next experiment (candidate against
production, all traffic split evenly). The last cycle serves and decides, and trains nothing.

The threshold, `THRESHOLD` = 0.2: the plain 260K-parameter TinyStories model answers with a
story; its ROUGE-L against the agent's answer is 0.06 on average and rarely above 0.15, so it
escalates nearly every conversation. An adapter that has learnt the support register ("I
understand... Please follow these steps: 1. Log in to your account...") scores 0.2-0.3 on
average, and most of its replies pass. SmolLM2-135M-Instruct, the default, answers helpfully but
not in the agents' words: 0.155 on average, 84% escalated; after one retrain on the first week's
corrections, 0.44 and 2% (the README's table).

The learning rate, `LEARNING_RATE` = 5e-3 (the flow's `learning_rate`): at the LoRA default of
2e-4 a retrain on a week of corrections leaves ROUGE-L where it was (0.06 after 2 epochs, 0.15
after 8); at 1e-2 the first candidate learns (0.29), but a retrain that continues from it
overshoots (held-out loss 1.07 -> 1.14) and is refused.

    result = simulate_chatbot(store, home, cycles=4, customers=120)
    print(result.table())
    result.plot("escalations.png")
"""

from __future__ import annotations

import csv
import random
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from tailorai.errors import ConfigError

__all__ = [
    "ANSWER_CHARS",
    "CYCLE_DAYS",
    "INTENTS",
    "LEARNING_RATE",
    "SAMPLE",
    "THRESHOLD",
    "ChatbotResult",
    "Question",
    "agent_answer",
    "questions",
    "simulate_chatbot",
]

SAMPLE = (
    Path(__file__).resolve().parent.parent
    / "assets"
    / "samples"
    / "Bitext_Sample_Customer_Support_Training_Dataset_4514.csv"
)
# Four intents from different categories (about 660 questions): over all 27, a week's
# corrections spread thinner (120 of them, 1 epoch at 1e-2: ROUGE-L 0.23 instead of 0.29).
INTENTS = ("cancel_order", "track_order", "get_refund", "recover_password")
ANSWER_CHARS = 200  # an agent's answer: the reference response up to a sentence end near this
THRESHOLD = 0.2
LEARNING_RATE = 5e-3
CYCLE_DAYS = 7.0
SATISFIED, ESCALATED = 5, 1  # stars


@dataclass(frozen=True, slots=True)
class Question:
    intent: str
    text: str
    answer: str


@dataclass
class ChatbotResult:
    threshold: float
    intents: tuple[str, ...]
    rows: list[dict[str, Any]] = field(default_factory=list)  # one per cycle
    seconds: float = 0.0

    @property
    def escalation_rates(self) -> list[float]:
        return [r["escalation_rate"] for r in self.rows]

    def table(self) -> str:
        """One Markdown row per cycle: who served, how often customers escalated (overall and
        per experiment arm), the mean ROUGE-L and reward, and what the experiment decided."""
        lines = [
            "| cycle | customers | production | experiment (control vs candidate) "
            "| escalation rate | control arm | candidate arm | mean ROUGE-L | mean reward "
            "| decision | retrain |",
            "|---:|---:|---|---|---:|---:|---:|---:|---:|---|---|",
        ]
        for r in self.rows:
            arms = r["arms"]
            experiment = "-"
            if r["experiment"]:
                experiment = f"{r['experiment']}: {arms['control']['version']} vs "
                experiment += arms["candidate"]["version"]
            cells = [
                str(r["cycle"]),
                str(r["customers"]),
                r["production"],
                experiment,
                f"{r['escalation_rate']:.0%}",
                *(_rate(arms.get(arm)) for arm in ("control", "candidate")),
                f"{r['rouge_l']:.3f}",
                f"{r['mean_reward']:+.2f}",
                r["decision"],
                r["retrain"],
            ]
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines)

    def plot(self, path: str | Path) -> Path:
        """A PNG of the escalation rate per cycle, overall and on each experiment arm."""
        from matplotlib.figure import Figure  # no pyplot: safe in servers and threads

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        figure = Figure(figsize=(6, 4), dpi=100)
        axes = figure.subplots()
        cycles = [r["cycle"] for r in self.rows]
        axes.plot(cycles, self.escalation_rates, "o-", color="tab:red", label="all customers")
        for arm, marker, color in (("control", "s", "tab:gray"), ("candidate", "^", "tab:blue")):
            points = [(r["cycle"], r["arms"][arm]["rate"]) for r in self.rows if arm in r["arms"]]
            if points:
                axes.plot(*zip(*points, strict=True), marker, color=color, label=f"{arm} arm")
        axes.set_xticks(cycles)
        axes.set_ylim(0, 1.05)
        axes.set_xlabel("retrain cycle")
        axes.set_ylabel("escalation rate (rated 1-2 stars)")
        axes.set_title(f"Support chatbot: escalations per cycle (ROUGE-L < {self.threshold:g})")
        axes.grid(alpha=0.3)
        axes.legend()
        figure.tight_layout()
        figure.savefig(path, format="png")
        return path


def _rate(arm: dict[str, Any] | None) -> str:
    return f"{arm['rate']:.0%} of {arm['customers']}" if arm else "-"


def agent_answer(response: str, limit: int = ANSWER_CHARS) -> str:
    """What the agent sends: `response` up to the last sentence end within `limit` characters
    (the last word end when no sentence ends past a third of it)."""
    response = response.strip()
    if len(response) <= limit:
        return response
    cut = response[:limit]
    end = max(cut.rfind(mark) for mark in (". ", "! ", "? ", ":\n", "\n"))
    if end > limit // 3:
        return cut[: end + 1].rstrip()
    return cut[: cut.rfind(" ")].rstrip() if " " in cut else cut


def questions(intents: Sequence[str] = INTENTS, *, seed: int = 0) -> list[Question]:
    """The sample's questions of `intents` with their agents' answers, shuffled with `seed`."""
    with SAMPLE.open(encoding="utf-8", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["intent"] in intents]
    unknown = sorted(set(intents) - {r["intent"] for r in rows})
    if unknown:
        raise ConfigError(
            f"Unknown intent(s) {', '.join(unknown)}: the support sample has none of them. "
            "Pick intents from its 'intent' column, e.g. cancel_order or track_order."
        )
    found = [Question(r["intent"], r["instruction"], agent_answer(r["response"])) for r in rows]
    random.Random(seed).shuffle(found)
    return found


def _check(name: str, value: Any, low: float, high: float, kind: type = int) -> None:
    wrong = isinstance(value, bool) or not isinstance(value, kind | int)
    if wrong or not low <= value <= high:
        what = "an int" if kind is int else "a number"
        raise ConfigError(
            f"The '{name}' parameter of simulate_chatbot must be {what} in [{low:g}, {high:g}]. "
            f"Got {value!r} instead."
        )


def simulate_chatbot(
    store: Any,
    home: str | Path,
    *,
    cycles: int = 4,
    customers: int = 120,
    seed: int = 0,
    epochs: int = 2,
    threshold: float = THRESHOLD,
    learning_rate: float = LEARNING_RATE,
    intents: Sequence[str] = INTENTS,
    project: str = "support",
    backend: Any = None,
    max_new_tokens: int = 96,
    workers: int = 16,
    log: Callable[[str], None] = lambda message: None,
) -> ChatbotResult:
    """Serve, rate, decide and retrain `cycles` times; the figures of each cycle.

    `project` must be new (no model versions, no generations): the chatbot starts from the plain
    base model. Week k asks questions k*customers... of the `intents`, shuffled with `seed`.
    `threshold` is the ROUGE-L that satisfies a customer; `epochs` and `learning_rate` go to
    every retrain. `workers` customers chat at once, so their replies share micro-batches;
    `backend` defaults to a `LocalBackend` on the shipped model batching that many, closed at
    the end. The arm split is seeded, so the same seed splits customers the same way.
    """
    from sqlalchemy import func, select

    from tailorai.generation.local_backend import LocalBackend
    from tailorai.projects import ensure_project
    from tailorai.store.tables import GenerationRow
    from tailorai.training.registry import Registry

    _check("cycles", cycles, 1, 20)
    _check("customers", customers, 4, 10_000)
    _check("epochs", epochs, 1, 20)
    _check("threshold", threshold, 0.0, 1.0, float)
    _check("learning_rate", learning_rate, 1e-6, 0.5, float)
    _check("workers", workers, 1, 256)
    pool = questions(intents, seed=seed)
    if cycles * customers > len(pool):
        raise ConfigError(
            f"{cycles} cycles of {customers} customers need {cycles * customers} questions; the "
            f"sample has {len(pool)} for the intents {', '.join(intents)}. Lower cycles or "
            "customers, or add intents."
        )
    ensure_project(store, project)
    home = Path(home)
    registry = Registry(store, home=home, project=project)
    with store.session() as s:
        served = s.scalar(select(func.count()).where(GenerationRow.project_id == project))
    if registry.list() or served:
        raise ConfigError(
            f"Project {project!r} already has {len(registry.list())} model versions and "
            f"{served} generations; the simulation starts from the plain base model. Pass a "
            "new project name or a fresh database."
        )
    started = time.perf_counter()
    own_backend = backend is None
    backend = backend or LocalBackend(max_batch=workers)
    result = ChatbotResult(threshold=threshold, intents=tuple(intents))
    try:
        for cycle in range(1, cycles + 1):
            week = pool[(cycle - 1) * customers : cycle * customers]
            row = _serve(
                store, backend, registry, project, cycle, week, threshold, max_new_tokens, workers
            )
            row.update(_decide(store, registry, project))
            row.update(retrain="-", run=None)
            if cycle < cycles:  # the last week's corrections would train for no one
                row.update(
                    _retrain(store, home, registry, project, cycle, epochs, learning_rate, seed)
                )
            row["elapsed_s"] = round(time.perf_counter() - started, 1)
            result.rows.append(row)
            log(
                f"cycle {cycle}: {row['escalation_rate']:.0%} escalated, "
                f"ROUGE-L {row['rouge_l']:.3f}; {row['decision']}; retrain: {row['retrain']}"
            )
    finally:
        if own_backend:
            backend.close()
    result.seconds = time.perf_counter() - started
    return result


def _serve(
    store: Any,
    backend: Any,
    registry: Any,
    project: str,
    cycle: int,
    week: list[Question],
    threshold: float,
    max_new_tokens: int,
    workers: int,
) -> dict[str, Any]:
    """The week's customers chat, rate and escalate; the cycle's figures."""
    from sqlalchemy import select

    from tailorai.feedback.log import FeedbackLog
    from tailorai.generation.personalizer import Personalizer
    from tailorai.store.tables import GenerationRewardRow
    from tailorai.training.evaluate import rouge

    production = registry.production("global")
    # A new Personalizer each week: its router and experiment caches must not outlive a
    # promotion or a decision.
    personalizer = Personalizer(
        store=store,
        backend=backend,
        project=project,
        registry=registry,
        max_new_tokens=max_new_tokens,
    )

    _warm_up(personalizer, production)

    def chat(item: tuple[int, Question]) -> Any:
        index, question = item
        messages = [{"role": "user", "content": question.text}]
        return personalizer.chat(f"customer-{cycle}-{index}", messages)

    with ThreadPoolExecutor(max_workers=workers) as threads:  # they share micro-batches
        generations = list(threads.map(chat, enumerate(week)))
    feedback = FeedbackLog(store)
    scores, escalated, arms = [], [], {}
    for generation, question in zip(generations, week, strict=True):
        score = rouge(generation.output, question.answer)["rougeL"]
        satisfied = score >= threshold
        values: dict[str, Any] = {"rating": SATISFIED}
        if not satisfied:  # a human agent takes over; their answer is the correction
            values = {"rating": ESCALATED, "correction": question.answer}
        feedback.add(project, generation.id, key=f"chatbot-{generation.id}", **values)
        scores.append(score)
        escalated.append(not satisfied)
        if generation.experiment_arm:
            arm = generation.experiment_arm.split(":", 1)[1]
            seen = arms.setdefault(arm, {"version": generation.model_version or "base"})
            seen.setdefault("outcomes", []).append(not satisfied)
    for seen in arms.values():
        outcomes = seen.pop("outcomes")
        seen.update(customers=len(outcomes), rate=sum(outcomes) / len(outcomes))
    ids = [g.id for g in generations]
    with store.session() as s:
        rewards = list(
            s.scalars(
                select(GenerationRewardRow.reward).where(GenerationRewardRow.generation_id.in_(ids))
            )
        )
    experiment = next((g.experiment_arm.split(":")[0] for g in generations if g.experiment_arm), "")
    return {
        "cycle": cycle,
        "customers": len(week),
        "production": production.ref if production is not None else "base",
        "experiment": experiment,
        "arms": {arm: arms[arm] for arm in ("control", "candidate") if arm in arms},
        "escalated": sum(escalated),
        "escalation_rate": sum(escalated) / len(escalated),
        "rouge_l": sum(scores) / len(scores),
        "mean_reward": sum(rewards) / len(rewards) if rewards else 0.0,
    }


def _warm_up(personalizer: Any, production: Any) -> None:
    """Load the week's adapters before the customers come, as a deployment warms a new version
    up: registered on a customer's request, an adapter waits for the batch that holds the model,
    and those few cold starts alone put one arm's p95 latency over the guardrail (1.5x)."""
    from tailorai.records import GenerationRequest

    experiments = personalizer.experiments
    running = experiments.running("global")
    refs = [a["version"] for a in running.arms] if running is not None else []
    versions = [experiments.version(ref) for ref in refs if ref] or [production]
    keys = [key for v in versions if (key := personalizer.adapter_key(v)) is not None]
    if keys:
        hello = [{"role": "user", "content": "Hello"}]
        personalizer.backend.generate(
            [GenerationRequest(messages=hello, adapter=k, max_new_tokens=1) for k in keys]
        )


def _decide(store: Any, registry: Any, project: str) -> dict[str, Any]:
    """Evaluate the running experiment as of the end of its week: it ends one way or another."""
    from tailorai.rollout.experiments import Experiments

    experiments = Experiments(store, registry, project=project, ttl=0)
    running = experiments.running("global")
    if running is None:
        return {"decision": "-", "decision_reason": ""}
    ended = running.started_at + timedelta(days=running.settings.max_days)
    decision = experiments.evaluate(running.name, now=ended)
    return {"decision": decision["action"], "decision_reason": decision["reason"]}


def _retrain(
    store: Any,
    home: Path,
    registry: Any,
    project: str,
    cycle: int,
    epochs: int,
    learning_rate: float,
    seed: int = 0,
) -> dict[str, Any]:
    """Run the retrain flow on the week's corrections: what it did, for the table, and its id.
    The experiments' splits are seeded, so a run with the same seed splits the same way."""
    from tailorai.retrain.flow import RetrainConfig, RetrainFlow

    config = RetrainConfig(
        scope="global",
        min_new_examples=10,
        epochs=epochs,
        learning_rate=learning_rate,
        metric="reward",
        ramp=[1.0],
        min_units=10,
        max_days=CYCLE_DAYS,
        experiment_salt=f"chatbot-{seed}",
        # The simulation measures the feedback loop itself; `tailor audit` judges models apart.
        audit=False,
        canaries=0,
    )
    flow = RetrainFlow(store, project=project, home=home, registry=registry, config=config)
    run = flow.run(trigger=f"chatbot simulation, cycle {cycle}")
    if run.status != "done":  # the reason's first clause; the run keeps the figures
        return {"retrain": f"{run.status}: {(run.reason or '').split(':')[0]}", "run": run.id}
    finetune = run.output("finetune")
    made = f"{finetune['candidate']} from {finetune['production'] or 'base'}"
    return {"retrain": made, "run": run.id}
