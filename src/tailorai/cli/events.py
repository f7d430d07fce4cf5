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
        folder = settings.home / "quarantine" / project
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


@events_app.command("consume")
def consume_command(
    project: str = typer.Option("default", "--project", help="The project whose events to move."),
    group: str = typer.Option("ingest", help="Consumer group: members share the work."),
    name: str = typer.Option("worker-1", help="This member's name, unique in the group."),
    once: bool = typer.Option(False, "--once", help="Move what is there, then stop."),
    config: Path | None = typer.Option(None, "--config", help="A tailor.yaml to read."),
) -> None:
    """Move captured events from Redis or Kafka (TAILOR_EVENTS_URL, e.g.
    redis://127.0.0.1:6379/0, set for `tailor serve` too) into the store.

    Example: tailor events consume --project shop --group ingest --name worker-1
    """
    from tailorai.errors import ConfigError
    from tailorai.events import SqlEventStream
    from tailorai.events.consumer import Consumer
    from tailorai.events.streams import open_stream
    from tailorai.projects import ensure_project
    from tailorai.segments import FeatureStore
    from tailorai.segments.segmentation import Assigner, Segmentations
    from tailorai.store import Store

    settings = get_settings(config)
    if not settings.events_url:
        raise ConfigError(
            "TAILOR_EVENTS_URL is not set: events already go straight to the store, so there is "
            "nothing to consume. Set it to redis://... or kafka://... for `tailor serve` and here."
        )
    store = Store(settings.database_url)
    stream = open_stream(settings.events_url)
    try:
        ensure_project(store, project)
        features = FeatureStore(store, Assigner(Segmentations(store, settings.home)))
        consumer = Consumer(stream, project, group, name, SqlEventStream(store), features)
        total = 0
        while True:
            result = consumer.run_once(block_ms=1000)
            total += result.stored
            if result.stored or result.duplicates:
                typer.echo(f"stored {result.stored}, duplicates {result.duplicates}", err=True)
            elif once:
                break
    except KeyboardInterrupt:
        pass
    finally:
        stream.close(project, group, name)
        store.close()
    typer.echo(f"{total} events stored.")
