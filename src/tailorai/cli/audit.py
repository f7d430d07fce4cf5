"""`tailor audit fatigue`: what fatigue control did, per segment."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from tailorai.settings import get_settings

__all__ = ["audit_app"]

audit_app = typer.Typer(help="Audit models and their effect on users.", no_args_is_help=True)


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
