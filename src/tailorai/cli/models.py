"""`tailor models ...`: list, inspect, promote, roll back and export registered model versions."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from tailorai.settings import get_settings
from tailorai.training.registry import EXPORT_FORMATS, ModelVersion, Registry

__all__ = ["models_app"]

models_app = typer.Typer(
    help="List, inspect, promote, roll back and export model versions.", no_args_is_help=True
)

_CONFIG = typer.Option(None, "--config", help="A tailor.yaml to read.")
_JSON = typer.Option(False, "--json", help="Print JSON instead of a table.")


@contextmanager
def _registry(config: Path | None) -> Iterator[Registry]:
    from tailorai.store import Store

    settings = get_settings(config)
    store = Store(settings.database_url)
    try:
        yield Registry(store, home=settings.home)
    finally:
        store.close()


def _metrics(metrics: dict[str, Any], limit: int = 3) -> str:
    # Curves, paths and flags belong to `show`; the table keeps a few figures, losses first.
    figures = [
        (key, value)
        for key, value in metrics.items()
        if isinstance(value, int | float) and not isinstance(value, bool)
    ]
    figures.sort(key=lambda item: "loss" not in item[0])
    return "\n".join(
        f"{key} {value:.4g}" if isinstance(value, float) else f"{key} {value}"
        for key, value in figures[:limit]
    )


def _console() -> Console:
    console = Console()
    # Piped into a file or a pager, a table needs no wrapping at 80 columns.
    return console if console.is_terminal else Console(width=120)


def _echo_json(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2, ensure_ascii=False))


@models_app.command("list")
def list_command(
    name: str | None = typer.Option(None, help="Only versions of this model name."),
    scope: str | None = typer.Option(None, help="Only this scope: global, segment:X, user:X."),
    stage: str | None = typer.Option(None, help="Only this stage: candidate, production, ..."),
    config: Path | None = _CONFIG,
    as_json: bool = _JSON,
) -> None:
    """List registered model versions, newest version of each name last.

    Example: tailor models list --stage production
    """
    with _registry(config) as registry:
        versions = registry.list(name=name, scope=scope, stage=stage)
    if as_json:
        _echo_json([v.as_dict() for v in versions])
        return
    console = _console()
    if not versions:
        console.print("No model versions match. Train one with tailor train.")
        return
    table = Table(title="Model versions")
    # Refs, stages and dates stay whole on a narrow terminal; scopes and metrics may wrap.
    for column in ("version", "scope", "method", "stage", "created"):
        table.add_column(column, no_wrap=column != "scope")
    table.add_column("metrics", min_width=16)
    for v in versions:
        table.add_row(
            v.ref,
            v.scope,
            v.method,
            v.stage,
            v.created_at.strftime("%Y-%m-%d %H:%M"),
            _metrics(v.metrics),
            style="bold green" if v.stage == "production" else None,
        )
    console.print(table)


@models_app.command("show")
def show_command(
    ref: str = typer.Argument(..., help="NAME@VERSION, or NAME for its production version."),
    config: Path | None = _CONFIG,
    as_json: bool = _JSON,
) -> None:
    """Show one version with its lineage, config and metrics.

    Example: tailor models show support@3
    """
    with _registry(config) as registry:
        version = registry.get(ref)
    if as_json:
        _echo_json(version.as_dict())
        return
    _print_version(version)


def _print_version(version: ModelVersion) -> None:
    console = _console()
    table = Table(title=f"Model version {version.ref}", show_header=False)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for key, value in version.as_dict().items():
        if key in ("ref", "config", "metrics", "lineage", "chat_template"):
            continue
        table.add_row(key.replace("_", " "), "" if value is None else str(value))
    for key in ("metrics", "config", "lineage"):
        value = getattr(version, key)
        table.add_row(key, json.dumps(value, indent=2, ensure_ascii=False) if value else "")
    table.add_row("chat template", version.chat_template or "(the tokenizer's own)")
    console.print(table)


@models_app.command("promote")
def promote_command(
    ref: str = typer.Argument(..., help="The version to put in production, e.g. support@3."),
    force: bool = typer.Option(
        False, "--force", help="Promote even though the version's last audit failed."
    ),
    config: Path | None = _CONFIG,
) -> None:
    """Put a version in production for its scope; the version it replaces is archived.

    Example: tailor models promote support@3
    """
    with _registry(config) as registry:
        before = registry.production(registry.get(ref).scope)
        version = registry.promote(ref, force=force)
    if before is not None and before.ref == version.ref:
        typer.echo(f"{version.ref} is already in production for scope {version.scope}.")
        return
    replaced = f"; {before.ref} is archived" if before is not None else ""
    typer.echo(f"{version.ref} is now in production for scope {version.scope}{replaced}.")


@models_app.command("rollback")
def rollback_command(
    scope: str | None = typer.Argument(
        None, help="The scope to roll back: global, segment:NAME or user:ID."
    ),
    name: str | None = typer.Option(None, help="Roll back the scope this model name serves."),
    config: Path | None = _CONFIG,
) -> None:
    """Undo the newest promotion of a scope: the version it replaced is production again.

    Example: tailor models rollback segment:vip
    """
    with _registry(config) as registry:
        resolved = scope if name is None else registry.get(name).scope
        before = registry.production(resolved) if resolved else None
        version = registry.rollback(scope, name=name)  # says what is wrong with the arguments
    archived = f"{before.ref} is archived, " if before is not None else ""
    typer.echo(
        f"Rolled back scope {version.scope}: {archived}{version.ref} is in production again."
    )


@models_app.command("export")
def export_command(
    ref: str = typer.Argument(..., help="NAME@VERSION, or NAME for its production version."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder (peft, merged) or file (openai)."),
    format: str = typer.Option(
        "peft", "--format", "-f", help=f"One of {', '.join(EXPORT_FORMATS)}."
    ),
    config: Path | None = _CONFIG,
) -> None:
    """Export a version: its PEFT adapter, a merged model folder, or its data as OpenAI JSONL.

    Example: tailor models export support@3 --format merged --out exports/support-3
    """
    console = Console(stderr=True)
    with (
        _registry(config) as registry,
        console.status(f"Exporting {ref} as {format}", spinner="dots"),
    ):
        exported = registry.get(ref).ref
        written = registry.export(exported, out, format)
    typer.echo(f"Exported {exported} as {format} to {written}")
