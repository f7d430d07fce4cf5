"""`tailor demo`: the main job on the embedded defaults, offline, in one command."""

from __future__ import annotations

import contextlib
import json
import sys
import warnings
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from tailorai.cli.data import run_prepare

__all__ = ["SAMPLES", "demo"]

SAMPLES = Path(__file__).resolve().parent.parent / "assets" / "samples"
DEMO_INPUTS = (
    "support_chats.jsonl",
    "support_mail.mbox",
    "feedback_form.csv",
    "Bitext_Sample_Customer_Support_Training_Dataset_4514.csv",
    "Synthetic-Persona-Chat_valid.csv",
    "SMSSpamCollection",
)


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

    The samples: chats, email, feedback, customer support, persona chat and SMS.

    Example: tailor demo --out demo-out
    """
    inputs = [SAMPLES / name for name in DEMO_INPUTS]
    options = {"our_addresses": ["@shop.example"], "export": ["openai"]}
    run_prepare(inputs, out, options, config_file=None, as_json=as_json)
    if train_adapter:
        _train_and_plan(out, as_json)
    if behaviour:
        _segments(as_json)
        _campaign(out / "emails", as_json)
    if feedback:
        _feedback_loop(out, as_json)
    if train_adapter:
        _audit(out / "audit", as_json)


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
                config=AuditConfig(users=100, verbatim_texts=20),
                out=out,
                log=lambda message: console.print(message),
            )
    finally:
        store.close()
    if as_json:
        typer.echo(json.dumps(result.as_dict(), indent=2))
    else:
        print_gates(result, out)


def _segments(as_json: bool) -> None:
    """MovieLens ratings and tags as events -> per-user features -> segments, promoted."""
    from tailorai.cli.segments import print_segmentation
    from tailorai.events.samples import replay_movielens
    from tailorai.segments.segmentation import Segmentations
    from tailorai.store import Store

    console = Console(stderr=True)
    console.print("Replaying MovieLens (100,836 ratings, 3,683 tags, 610 users) as events...")
    store = Store()
    try:
        stored = replay_movielens(store, "movielens")
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
    _side_by_side(version, as_json)


def _side_by_side(version: Any, as_json: bool) -> None:
    """One user of each segment, the same request, each on their own rung and segment prompt."""
    from rich.table import Table
    from sqlalchemy import select

    from tailorai.generation import LocalBackend, Personalizer
    from tailorai.store import Store
    from tailorai.store.tables import UserFeatureRow

    store = Store()
    backend = LocalBackend()
    try:
        users = {}
        with store.session() as s:
            rows = s.execute(
                select(UserFeatureRow.segment, UserFeatureRow.user_key)
                .where(UserFeatureRow.project_id == version.project_id)
                .order_by(UserFeatureRow.user_key)
            ).all()
        for segment, user in rows:
            users.setdefault(segment, user)
        personalizer = Personalizer(
            store=store, backend=backend, project=version.project_id, max_new_tokens=40
        )
        inputs = {"goal": "tell them about this week's new films"}
        made = [personalizer.generate(user, "email", inputs) for user in users.values()]
    finally:
        backend.close()
        store.close()
    if as_json:
        typer.echo(json.dumps([g.as_dict() for g in made], indent=2, default=str))
        return
    table = Table(title="The same email request, personalized per segment (generation records)")
    for column in ("segment", "user", "rung", "prompt", "output (the tiny shipped model)"):
        table.add_column(column)
    for g in made:
        table.add_row(
            g.segment or "-",
            g.user_id or "-",
            g.rung,
            g.prompt[0]["content"][:80] + "...",
            g.output[:80],
        )
    Console().print(table)


def _campaign(out: Path, as_json: bool) -> None:
    """The shipped campaign, rendered for two members of each segment."""
    from rich.table import Table

    from tailorai.campaigns import CampaignEngine, load_campaign
    from tailorai.campaigns.render import render_campaign, write_emails
    from tailorai.campaigns.simulate import EXAMPLE
    from tailorai.generation import LocalBackend, Personalizer
    from tailorai.segments import FeatureStore
    from tailorai.store import Store

    store = Store()
    backend = LocalBackend()
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
        emails = render_campaign(engine, personalizer, users, click_url="http://127.0.0.1:8000")
        write_emails(emails, out)
    finally:
        backend.close()
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


def _feedback_loop(out: Path, as_json: bool) -> None:
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
            f"Feedback loop in project {project}: 2 weeks of 64 support chats, rated; poor "
            "replies escalated and corrected; one retrain on the corrections; its experiment..."
        )
        result = simulate_chatbot(
            store, get_settings().home, cycles=2, customers=64, project=project
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
    console.print("Training a LoRA adapter on 400 of the prepared examples (1 epoch)...")
    config = TrainConfig(
        data=str(out), method="lora", epochs=1, max_examples=400, name="demo", canaries=4
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
