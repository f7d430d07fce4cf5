"""`tailor events import`: events from server logs or JSONL files."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import typer

from tailorai.settings import get_settings

__all__ = ["events_app"]

events_app = typer.Typer(help="Bring events in from logs and files.", no_args_is_help=True)


@events_app.command("import")
def import_command(
    file: Path = typer.Argument(..., help="The log or JSONL file."),
    fmt: str = typer.Option(
        "combined", "--format", help="combined (nginx/Apache access log) or jsonl (events)."
    ),
    project: str = typer.Option("default", "--project", help="The project (created when new)."),
    config: Path | None = typer.Option(None, "--config", help="A tailor.yaml to read."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Import events; importing the same file again stores nothing twice.

    Example: tailor events import /var/log/nginx/access.log --format combined --project shop
    """
    from tailorai.events import SqlEventStream
    from tailorai.events.log_import import import_events
    from tailorai.projects import ensure_project
    from tailorai.segments import FeatureStore
    from tailorai.store import Store

    settings = get_settings(config)
    store = Store(settings.database_url)
    try:
        ensure_project(store, project)
        report = import_events(file, fmt, project, SqlEventStream(store), FeatureStore(store))
    finally:
        store.close()
    summary = report.as_dict()
    if report.quarantined:
        folder = settings.home / "quarantine"
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"{file.name}-{datetime.now(UTC):%Y%m%dT%H%M%S}.jsonl"
        target.write_text(
            "".join(json.dumps(q.as_dict()) + "\n" for q in report.quarantined), encoding="utf-8"
        )
        summary["quarantine_file"] = str(target)
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
        return
    skipped = ", ".join(f"{n} {why}" for why, n in summary["skipped"].items()) or "none"
    typer.echo(
        f"{summary['lines']} lines: {summary['stored']} events stored, "
        f"{summary['duplicates']} already there, skipped {skipped}, "
        f"{summary['quarantined']} quarantined"
        + (f" (see {summary['quarantine_file']})" if report.quarantined else "")
    )
