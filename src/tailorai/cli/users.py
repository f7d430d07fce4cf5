"""`tailor users show|forget|export ID`: a user's features, their erasure, their data."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from tailorai.errors import DataError
from tailorai.settings import get_settings

__all__ = ["users_app"]

users_app = typer.Typer(
    help="Look at users: features, segment, recent events.", no_args_is_help=True
)


@users_app.command("show")
def show(
    user_id: str = typer.Argument(..., help="The user id (or anonymous id)."),
    project: str = typer.Option("default", "--project", help="The user's project."),
    recent: int = typer.Option(10, "--recent", help="How many recent events to list."),
    config: Path | None = typer.Option(None, "--config", help="A tailor.yaml to read."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of tables."),
) -> None:
    """Show what is known of a user now.

    Example: tailor users show u42 --project shop
    """
    from tailorai.events import SqlEventStream
    from tailorai.segments import FeatureStore, user_profile
    from tailorai.store import Store

    store = Store(get_settings(config).database_url)
    try:
        profile = user_profile(FeatureStore(store), SqlEventStream(store), project, user_id, recent)
    finally:
        store.close()
    if profile is None:
        raise DataError(
            f"No user {user_id!r} in project {project!r}: no event of theirs is stored. "
            "Check the id and --project."
        )
    if as_json:
        typer.echo(json.dumps(profile, indent=2))
        return
    console = Console()
    table = Table(title=f"User {user_id} (segment: {profile['segment'] or 'none yet'})")
    table.add_column("feature")
    table.add_column("value")
    for name, value in (profile["features"] or {}).items():
        shown = f"{value:.3g}" if isinstance(value, float) else json.dumps(value)
        table.add_row(name, shown)
    console.print(table)
    events = Table(title="Recent events")
    for column in ("time", "type", "event", "properties"):
        events.add_column(column)
    for e in profile["recent_events"]:
        events.add_row(
            e["timestamp"][:19], e["type"], e["event"] or "", json.dumps(e["properties"])[:60]
        )
    console.print(events)


@users_app.command("forget")
def forget(
    user_id: str = typer.Argument(..., help="The user id to erase."),
    project: str | None = typer.Option(None, "--project", help="Default: TAILOR_PROJECT."),
    config: Path | None = typer.Option(None, "--config", help="A tailor.yaml to read."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Erase a user: events, features, segment history, generations, feedback, review items,
    user adapters and their rows in the project's datasets; a tombstone keeps them out of
    later data preparation and retraining.

    Example: tailor users forget u42 --project shop
    """
    from tailorai.privacy import forget_user
    from tailorai.store import Store

    settings = get_settings(config)
    project = project or settings.project
    store = Store(settings.database_url)
    try:
        report = forget_user(store, project, user_id, home=Path(settings.home))
    finally:
        store.close()
    if as_json:
        typer.echo(json.dumps(report.as_dict(), indent=2))
        return
    removed = {k: v for k, v in report.removed.items() if v}
    console = Console()
    console.print(f"Forgot {user_id!r} in project {project!r}; they stay out of later datasets.")
    table = Table(title="Removed")
    table.add_column("what")
    table.add_column("rows", justify="right")
    for name, count in removed.items():
        table.add_row(name, str(count))
    for path, count in report.files.items():
        table.add_row(f"dataset rows in {path}", str(count))
    for ref in report.adapters:
        table.add_row(f"user adapter {ref}", "files deleted")
    console.print(table if table.row_count else "Nothing was stored about them.")


@users_app.command("export")
def export(
    user_id: str = typer.Argument(..., help="The user id."),
    project: str | None = typer.Option(None, "--project", help="Default: TAILOR_PROJECT."),
    config: Path | None = typer.Option(None, "--config", help="A tailor.yaml to read."),
) -> None:
    """Print everything stored about a user, as JSON (GDPR's right of access).

    Example: tailor users export u42 --project shop > u42.json
    """
    from tailorai.privacy import export_user
    from tailorai.store import Store

    settings = get_settings(config)
    store = Store(settings.database_url)
    try:
        data = export_user(store, project or settings.project, user_id)
    finally:
        store.close()
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))
