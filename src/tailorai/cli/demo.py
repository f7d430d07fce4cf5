"""`tailor demo`: the main job on the embedded defaults, offline, in one command."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from tailorai.cli.data import run_prepare

__all__ = ["SAMPLES", "demo"]

SAMPLES = Path(__file__).resolve().parent.parent / "assets" / "samples"
# Sized for SmolLM2-135M on 2 CPU cores, where a training step of 8 examples takes ~7 s and a
# batch of 32 replies ~180 tokens/s: the whole demo in about 5 minutes.
DEMO_EXAMPLES = 32
CHATBOT_CUSTOMERS = 24  # fewer: too few corrections for the retrain (it needs 10)
AUDIT_USERS = 30
# 30 users write 60 outputs: groups of 15 are a demo's sample (the default asks 30 per group).
AUDIT_MIN_GROUP = 15
DEMO_INPUTS = (
    "support_chats.jsonl",
    "support_mail.mbox",
    "feedback_form.csv",
    "Bitext_Sample_Customer_Support_Training_Dataset_4514.csv",
    "Synthetic-Persona-Chat_valid.csv",
)  # the shipped SMS sample (5,574 texts) is left out: it doubled the preparation time


def demo(
    out: Path = typer.Option(Path("demo-out"), "--out", "-o", help="Folder for the dataset."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    train_adapter: bool = typer.Option(
        True, "--train/--no-train", help="Also train and promote a LoRA adapter."
    ),
    behaviour: bool = typer.Option(
        True, "--segments/--no-segments", help="Also replay MovieLens and segment its users."
    ),
    feedback: bool = typer.Option(
        True,
        "--feedback/--no-feedback",
        help="Also run the feedback loop: support chats rated, one retrain, its experiment.",
    ),
) -> None:
    """Prepare the shipped samples, train and promote a LoRA adapter on them, replay the
    shipped MovieLens behaviour as events and fit, name and print its users' segments, write
    content for users of each segment side by side, render an adaptive email campaign, and
    close a feedback loop: support chats rated, one retrain on the corrections, its experiment
    decided.

    The samples: chats, email, feedback, customer support and persona chat.

    Example: tailor demo --out demo-out
    """
    inputs = [SAMPLES / name for name in DEMO_INPUTS]
    options = {"our_addresses": ["@shop.example"], "export": ["openai"]}
    started = time.perf_counter()
    shared = _SharedBackend()
    stages: list[tuple[str, Callable[[], None]]] = [
        (
            "data preparation",
            lambda: run_prepare(inputs, out, options, config_file=None, as_json=as_json),
        )
    ]
    if train_adapter:
        stages.append(("training", lambda: _train_and_plan(out, as_json)))
    if behaviour:
        stages.append(("segments and personalized emails", lambda: _segments(shared, as_json)))
        stages.append(("the campaign", lambda: _campaign(shared, out / "emails", as_json)))
    if feedback:
        stages.append(("the feedback loop", lambda: _feedback_loop(shared, out, as_json)))
    if train_adapter:
        # The audit loads its own models: the shared back end goes first, as an idle one's
        # OpenMP threads spin and halve everyone else's speed.
        stages.append(("the audit", lambda: (shared.close(), _audit(out / "audit", as_json))))
    console = Console(stderr=True)
    converting = _convert_beside()
    try:
        for name, run in stages:
            began = time.perf_counter()
            run()
            console.print(f"[dim]{name}: {time.perf_counter() - began:.0f} s[/dim]")
    finally:
        shared.close()
        if converting is not None:
            converting.wait()
    console.print(f"Demo done in {time.perf_counter() - started:.0f} s.")


def _convert_beside() -> subprocess.Popen[bytes] | None:
    """On a first run, convert the base model in a second process: data preparation keeps one
    core busy and needs the model only at its last steps, so the conversion costs no time (the
    folder is written atomically, and a step that gets there first converts it too)."""
    from tailorai.models import needs_conversion

    if not needs_conversion():
        return None
    code = "from tailorai.models import resolve_model_path; resolve_model_path()"
    return subprocess.Popen([sys.executable, "-c", code])


class _SharedBackend:
    """One LocalBackend on the base model for the demo's generating stages, loaded on first
    use: loading SmolLM2 costs seconds a time."""

    def __init__(self) -> None:
        self._backend: Any = None

    def get(self) -> Any:
        from tailorai.generation import LocalBackend

        if self._backend is None:
            self._backend = LocalBackend(max_batch=32)
        return self._backend

    def close(self) -> None:
        if self._backend is not None:
            self._backend.close()
            self._backend = None


def _audit(out: Path, as_json: bool) -> None:
    """The gates on the version the demo trained: what `tailor audit --version demo` prints."""
    from tailorai.audit.gates import AuditConfig, audit_version
    from tailorai.cli.audit import print_gates
    from tailorai.settings import get_settings
    from tailorai.store import Store
    from tailorai.training import Registry

    console = Console(stderr=True)
    console.print("Auditing the demo adapter: bias, probes, memorization, diversity, fatigue...")
    settings = get_settings()
    store = Store(settings.database_url)
    try:
        registry = Registry(store, project=settings.project)
        with warnings.catch_warnings(), contextlib.redirect_stdout(sys.stderr):
            warnings.simplefilter("ignore")
            result = audit_version(
                store,
                registry.get("demo").ref,
                project=settings.project,
                registry=registry,
                config=AuditConfig(
                    users=AUDIT_USERS,
                    min_group=AUDIT_MIN_GROUP,
                    verbatim_texts=3,
                    max_new_tokens=40,
                    probe_templates=AuditConfig().probe_templates[:3],
                ),
                out=out,
                log=lambda message: console.print(message),
            )
    finally:
        store.close()
    if as_json:
        typer.echo(json.dumps(result.as_dict(), indent=2))
    else:
        print_gates(result, out)


def _segments(shared: _SharedBackend, as_json: bool) -> None:
    """MovieLens ratings and tags as events -> per-user features -> segments, promoted."""
    from tailorai.cli.segments import print_segmentation
    from tailorai.events.samples import replay_movielens
    from tailorai.segments.segmentation import Segmentations
    from tailorai.store import Store

    console = Console(stderr=True)
    console.print(
        "Replaying MovieLens (100,836 ratings, 3,683 tags, 610 users) as events, moved in time "
        "so its last rating was an hour ago..."
    )
    store = Store()
    try:
        stored = replay_movielens(store, "movielens", as_of=datetime.now(UTC) - timedelta(hours=1))
        console.print(f"{stored:,} new events stored; fitting segments (k by silhouette)...")
        segmentations = Segmentations(store)
        version = segmentations.fit("movielens", k="auto")
        segmentations.promote("movielens", version.version)
        version = segmentations.get("movielens", version.version)
    finally:
        store.close()
    if as_json:
        typer.echo(json.dumps(version.as_dict(), indent=2))
    else:
        print_segmentation(version)
    _side_by_side(shared.get(), version, as_json)


def pick_profiles(records: dict[str, Any], now: datetime) -> list[tuple[str, str]]:
    """Three members whose data differ: `(why, user)` for the most active recent fan of
    Sci-Fi (or of whatever genre leads), the most active recent fan of another genre, and the
    most active member who has lapsed."""
    from tailorai.prompting.cues import LAPSED_DAYS

    def values(user: str) -> dict[str, Any]:
        return records[user].features.values(now)

    by_activity = sorted(records, key=lambda u: (-records[u].features.events, u))
    recent = [u for u in by_activity if values(u)["recency_days"] < LAPSED_DAYS]
    lapsed = [u for u in by_activity if values(u)["recency_days"] >= LAPSED_DAYS]
    picked: list[tuple[str, str]] = []

    def top(user: str) -> str | None:
        categories = values(user)["top_categories"]
        return categories[0] if categories else None

    fans = [u for u in recent if top(u) == "Sci-Fi"] or [u for u in recent if top(u)]
    if fans:
        picked.append((f"a recent fan of {top(fans[0])}", fans[0]))
        others = [u for u in recent if top(u) and top(u) != top(fans[0])]
        if others:
            picked.append((f"a recent fan of {top(others[0])}", others[0]))
    if lapsed:
        picked.append(("a member who has lapsed", lapsed[0]))
    return picked


def _side_by_side(backend: Any, version: Any, as_json: bool) -> None:
    """The same email request for three members whose data differ, each on their own rung,
    segment prompt and context cues: what personalization changes in the text."""
    from concurrent.futures import ThreadPoolExecutor

    from rich.console import Group
    from rich.panel import Panel
    from rich.text import Text
    from sqlalchemy import select

    from tailorai.generation import Personalizer
    from tailorai.prompting import context_cues
    from tailorai.segments import FeatureStore
    from tailorai.store import Store
    from tailorai.store.tables import UserFeatureRow

    store = Store()
    now = datetime.now(UTC)
    try:
        with store.session() as s:
            keys = list(
                s.scalars(
                    select(UserFeatureRow.user_key).where(
                        UserFeatureRow.project_id == version.project_id
                    )
                )
            )
        records = FeatureStore(store).get_many(version.project_id, keys)
        picked = pick_profiles(records, now)
        personalizer = Personalizer(store=store, backend=backend, project=version.project_id)
        inputs = {"goal": "tell them about this week's new films", "brand": "Cinema Club"}
        with ThreadPoolExecutor(len(picked)) as pool:  # one micro-batch for the three
            made = list(pool.map(lambda p: personalizer.generate(p[1], "email", inputs), picked))
    finally:
        store.close()
    if as_json:
        typer.echo(json.dumps([g.as_dict() for g in made], indent=2, default=str))
        return
    console = Console()
    console.print(
        'The same request, "tell them about this week\'s new films", for three members whose '
        "data differ (generation records in the store):"
    )
    for (why, user), g in zip(picked, made, strict=True):
        profile = context_cues(records[user].features.values(now)).splitlines()[1:]
        body = Group(Text("\n".join(profile), style="dim"), Text(""), Text(g.output))
        console.print(
            Panel(
                body,
                title=f"{user}: {why} ({g.segment or 'no segment'}; {g.rung})",
                title_align="left",
            )
        )


def _campaign(shared: _SharedBackend, out: Path, as_json: bool) -> None:
    """The shipped campaign, rendered for two members of each segment."""
    from rich.table import Table

    from tailorai.campaigns import CampaignEngine, load_campaign
    from tailorai.campaigns.render import render_campaign, write_emails
    from tailorai.campaigns.simulate import EXAMPLE
    from tailorai.generation import Personalizer
    from tailorai.segments import FeatureStore
    from tailorai.store import Store

    store = Store()
    backend = shared.get()
    try:
        features = FeatureStore(store)
        users = [
            user
            for segment in features.segment_sizes("movielens")
            if segment
            for user in features.users_in("movielens", segment, limit=2)
        ]
        personalizer = Personalizer(store=store, backend=backend, project="movielens")
        engine = CampaignEngine(store, load_campaign(EXAMPLE), project="movielens")
        emails = render_campaign(
            engine, personalizer, users, click_url="http://127.0.0.1:8000", workers=24
        )
        write_emails(emails, out)
    finally:
        store.close()
    if as_json:
        typer.echo(json.dumps([e.as_dict() for e in emails], indent=2))
        return
    table = Table(title=f"Campaign movie_night: blocks chosen per member by the bandit ({out})")
    for column in ("user", "segment", "subject", "blocks, in order (propensity)"):
        table.add_column(column)
    for email in emails:
        order = ", ".join(f"{b['name']} ({b['propensity']:.2f})" for b in email.blocks)
        table.add_row(email.user_id, email.segment or "-", email.subject, order)
    Console().print(table)
    Console(stderr=True).print(
        "Open the .html files to see the emails; `tailor campaign simulate` shows the bandit "
        "learning from MovieLens members' clicks against a fixed order."
    )


def _fresh_project(store: Any, name: str) -> str:
    """`name`, or `name-2`, `name-3`...: the first with no model versions or generations."""
    from sqlalchemy import func, select

    from tailorai.store.tables import GenerationRow, ModelVersionRow

    for n in range(1, 1000):
        project = name if n == 1 else f"{name}-{n}"
        with store.session() as s:
            used = s.scalar(
                select(func.count()).where(GenerationRow.project_id == project)
            ) or s.scalar(select(func.count()).where(ModelVersionRow.project_id == project))
        if not used:
            return project
    raise RuntimeError("no free project name")  # pragma: no cover


def _feedback_loop(shared: _SharedBackend, out: Path, as_json: bool) -> None:
    """Support customers chat with the shipped model and rate it; poor replies are escalated
    and corrected; the corrections retrain it once, and an experiment decides."""
    from tailorai.retrain.chatbot import simulate_chatbot
    from tailorai.settings import get_settings
    from tailorai.store import Store

    console = Console(stderr=True)
    store = Store()
    try:
        project = _fresh_project(store, "support")
        console.print(
            f"Feedback loop in project {project}: 2 weeks of {CHATBOT_CUSTOMERS} support chats, "
            "rated; poor replies escalated and corrected; one retrain on the corrections; its "
            "experiment..."
        )
        result = simulate_chatbot(
            store,
            get_settings().home,
            cycles=2,
            customers=CHATBOT_CUSTOMERS,
            workers=CHATBOT_CUSTOMERS,
            max_new_tokens=64,
            epochs=1,
            backend=shared.get(),
            project=project,
        )
    finally:
        store.close()
    plot = result.plot(out / "chatbot-escalations.png")
    if as_json:
        typer.echo(json.dumps({"project": project, "rows": result.rows}, default=str))
        return
    Console().print(result.table())
    decided = result.rows[-1].get("decision") or "-"
    console.print(
        f"The experiment's decision: {decided}. Escalations per week: "
        + " -> ".join(f"{r:.0%}" for r in result.escalation_rates)
        + f". Plot: {plot}. See: tailor experiments list --project {project}"
    )


def _train_and_plan(out: Path, as_json: bool) -> None:
    # A quick LoRA adapter on a sample of the prepared data: minutes on a laptop CPU, and the
    # same code path as a full `tailor train`.
    from tailorai.cli.train import print_versions
    from tailorai.training import Registry, TrainConfig, train

    console = Console(stderr=True)
    console.print(
        f"Training a LoRA adapter on {DEMO_EXAMPLES} of the prepared examples (1 epoch; about a "
        "minute for SmolLM2 on 2 CPU cores)..."
    )
    config = TrainConfig(
        data=str(out),
        method="lora",
        epochs=1,
        max_examples=DEMO_EXAMPLES,
        name="demo",
        canaries=4,
    )
    with warnings.catch_warnings(), contextlib.redirect_stdout(sys.stderr):
        warnings.simplefilter("ignore")
        versions = train(config, progress=False)
    registry = Registry()
    promoted = registry.promote(versions[0].ref)
    from tailorai.cli.plan import print_plan
    from tailorai.training.ladder import LadderThresholds, plan_dataset

    thresholds = LadderThresholds()
    ladder = plan_dataset(out, thresholds=thresholds, measure=False, registry=registry)
    if as_json:
        typer.echo(json.dumps([promoted.as_dict()], indent=2, default=str))
        typer.echo(json.dumps(ladder.as_dict(), indent=2, ensure_ascii=False))
    else:
        print_versions([promoted])
        print_plan(ladder, thresholds, out, top=10)
