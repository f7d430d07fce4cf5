"""`tailor audit --version V`: every gate on a version; `tailor audit fatigue`: what fatigue
control did, per segment."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from tailorai.settings import get_settings

__all__ = ["audit_app", "print_gates"]

audit_app = typer.Typer(help="Audit models and their effect on users.")


@audit_app.callback(invoke_without_command=True)
def audit(
    ctx: typer.Context,
    version: str | None = typer.Option(
        None, "--version", "-v", help="The version to audit, e.g. support@4 (or a name)."
    ),
    out: Path | None = typer.Option(
        None,
        "--out",
        help="Folder for audit.json and report.html (default: HOME/audits/PROJECT/REF).",
    ),
    users: int | None = typer.Option(None, min=2, help="Users in the audit's population (200)."),
    population: str | None = typer.Option(
        None, help="auto, project (users with sensitive traits) or simulated (UCI Adult)."
    ),
    compare: bool = typer.Option(
        True, "--compare/--no-compare", help="Run the same checks on production beside it."
    ),
    project: str | None = typer.Option(None, "--project", help="Default: TAILOR_PROJECT."),
    config: Path | None = typer.Option(None, "--config", help="A tailor.yaml with an audit: part."),
    as_json: bool = typer.Option(False, "--json", help="Print audit.json."),
) -> None:
    """Run every gate (bias, probes, memorization, PII, diversity, overfitting, fatigue) on a
    version beside production; exit 1 when a gate fails.

    Example: tailor audit --version support@4
    """
    if ctx.invoked_subcommand is not None:
        return
    if version is None:
        typer.echo(ctx.get_help())
        raise typer.Exit(2)
    from tailorai.audit.gates import AuditConfig, audit_version, report_folder
    from tailorai.store import Store

    settings = get_settings(config)
    project = project or settings.project
    options = dict(settings.audit)
    options.update({k: v for k, v in {"users": users, "population": population}.items() if v})
    audit_config = AuditConfig.from_dict(options)
    store = Store(settings.database_url)
    console = Console(stderr=True)
    try:
        from tailorai.training.registry import Registry

        registry = Registry(store, home=settings.home, project=project)
        ref = registry.get(version).ref
        folder = out or report_folder(Path(settings.home), project, ref)
        result = audit_version(
            store,
            ref,
            project=project,
            registry=registry,
            config=audit_config,
            out=folder,
            compare=compare,
            log=lambda message: console.print(message),
        )
    finally:
        store.close()
    if as_json:
        typer.echo((folder / "audit.json").read_text(encoding="utf-8"))
    else:
        print_gates(result, folder)
    if not result.passed:
        raise typer.Exit(1)


def print_gates(result: Any, folder: Path) -> None:
    """Per check, how many gates passed, failed or lacked data; then every gate that did not
    pass, with its figure beside production's (the whole list is in audit.json)."""
    console = Console()
    summary = Table(title=f"Audit of {result.ref} (production: {result.production or 'none'})")
    for column in ("check", "pass", "fail", "insufficient data"):
        summary.add_column(column)
    checks: dict[str, list[Any]] = {}
    for g in result.gates:
        checks.setdefault(g["check"], []).append(g["passed"])
    for check, verdicts in checks.items():
        failed = verdicts.count(False)
        summary.add_row(
            check,
            str(verdicts.count(True)),
            f"[red]{failed}" if failed else "0",
            str(verdicts.count(None)),
        )
    console.print(summary)
    shown = [g for g in result.gates if g["passed"] is not True]
    if shown:
        table = Table(show_lines=False)
        for column in ("gate", "figure", "threshold", "result", "production"):
            table.add_column(column, overflow="fold")
        for g in shown:
            base = result.baseline.get(g["name"], {}).get("figure")
            state = "[red]FAIL" if g["passed"] is False else "[dim]insufficient data"
            table.add_row(g["name"], _cell(g["figure"]), _cell(g["threshold"]), state, _cell(base))
        console.print(table)
    verdict = "[green]passed" if result.passed else f"[red]FAILED[/red]: {result.reason()}"
    console.print(f"{result.ref} {verdict}", soft_wrap=True)
    if result.flagged:
        console.print(
            f"{result.flagged} outputs flagged for review (the dashboard's Review page, "
            "/v1/review)."
        )
    console.print(
        f"Report: {folder / 'report.html'}  JSON: {folder / 'audit.json'}", soft_wrap=True
    )


def _cell(value: Any) -> str:
    from tailorai.audit.gates import _short

    return "–" if value is None else _short(value)


@audit_app.command("fatigue")
def fatigue(
    days: float = typer.Option(30.0, min=0.01, help="How far back, in days."),
    project: str | None = typer.Option(None, "--project", help="Default: TAILOR_PROJECT."),
    config: Path | None = typer.Option(None, "--config", help="A tailor.yaml to read."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Sends per user, capped sends and repeats, per segment.

    Example: tailor audit fatigue --days 7 --project shop
    """
    from tailorai.audit.fatigue import fatigue_report
    from tailorai.store import Store

    settings = get_settings(config)
    project = project or settings.project
    store = Store(settings.database_url)
    try:
        rows = fatigue_report(store, project, days=days)
    finally:
        store.close()
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table(title=f"Fatigue in {project}, last {days:g} days")
    for column in (
        "segment",
        "users",
        "sends",
        "per user (mean/p50/p90/max)",
        "capped",
        "repeats",
        "repeat rate",
    ):
        table.add_column(column)
    for r in rows:
        table.add_row(
            r["segment"],
            str(r["users"]),
            str(r["sends"]),
            f"{r['sends_per_user_mean']:.1f} / {r['sends_per_user_p50']} / "
            f"{r['sends_per_user_p90']} / {r['sends_per_user_max']}",
            str(r["capped"]),
            f"{r['repeated']} (+{r['regenerated']} regenerated)",
            f"{r['repeat_rate']:.1%}",
        )
    Console().print(table)


@audit_app.command("outputs")
def outputs(
    days: float | None = typer.Option(
        1.0, min=0.0, help="Check generations of the last DAYS days (0: all of them)."
    ),
    project: str | None = typer.Option(None, "--project", help="Default: TAILOR_PROJECT."),
    config: Path | None = typer.Option(None, "--config", help="A tailor.yaml to read."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Flag served outputs with offensive language or personal data, and generations with
    negative feedback, into the review queue (run it daily, or after `tailor feedback refresh`).

    Example: tailor audit outputs --days 1 --project shop
    """
    from datetime import UTC, datetime, timedelta

    from tailorai.audit.review import ReviewQueue
    from tailorai.store import Store

    settings = get_settings(config)
    project = project or settings.project
    since = datetime.now(UTC) - timedelta(days=days) if days else None
    store = Store(settings.database_url)
    try:
        queue = ReviewQueue(store, project=project)
        counts = queue.flag_outputs(since=since)
        counts["negative_feedback"] = queue.flag_from_feedback()
    finally:
        store.close()
    if as_json:
        typer.echo(json.dumps(counts))
        return
    typer.echo(
        f"Checked {counts['checked']} outputs: {counts['offensive']} offensive, {counts['pii']} "
        f"with personal data; {counts['negative_feedback']} new with negative feedback. Flagged "
        "ones wait in the review queue (dashboard Review page, /v1/review)."
    )
