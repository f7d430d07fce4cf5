"""`tailor keys ...`: create, list and revoke a project's keys."""

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

__all__ = ["keys_app"]

keys_app = typer.Typer(help="Create, list and revoke project keys.", no_args_is_help=True)

_CONFIG = typer.Option(None, "--config", help="A tailor.yaml to read.")


@contextmanager
def _store(config: Path | None) -> Iterator[Any]:
    from tailorai.store import Store

    store = Store(get_settings(config).database_url)
    try:
        yield store
    finally:
        store.close()


@keys_app.command("create")
def create(
    project: str = typer.Option("default", "--project", help="The project (created when new)."),
    kind: str = typer.Option(
        "secret", "--kind", help="public (event capture only, may sit in pages) or secret."
    ),
    name: str | None = typer.Option(None, "--name", help="A note to tell keys apart."),
    config: Path | None = _CONFIG,
) -> None:
    """Create a key and print it: it is shown this once, only its hash is kept.

    Example: tailor keys create --project shop --kind public --name "web tracker"
    """
    from tailorai.projects import create_key

    with _store(config) as store:
        key = create_key(store, project, kind, name=name)
    typer.echo(key)


@keys_app.command("list")
def list_(
    project: str | None = typer.Option(None, "--project", help="Only this project's keys."),
    config: Path | None = _CONFIG,
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """List keys by prefix (the keys themselves are not stored).

    Example: tailor keys list --project shop
    """
    from tailorai.projects import list_keys

    with _store(config) as store:
        keys = list_keys(store, project)
    if as_json:
        typer.echo(json.dumps([k.as_dict() for k in keys], indent=2))
        return
    table = Table(title="Keys")
    for column in ("project", "kind", "prefix", "name", "created", "revoked"):
        table.add_column(column)
    for k in keys:
        table.add_row(
            k.project_id,
            k.kind,
            k.prefix,
            k.name or "",
            f"{k.created_at:%Y-%m-%d %H:%M}" if k.created_at else "",
            f"{k.revoked_at:%Y-%m-%d %H:%M}" if k.revoked_at else "",
        )
    Console().print(table)


@keys_app.command("revoke")
def revoke(
    prefix: str = typer.Argument(..., help="The key's prefix, as `tailor keys list` shows it."),
    config: Path | None = _CONFIG,
) -> None:
    """Revoke a key; the server refuses it within seconds.

    Example: tailor keys revoke tk_pub_AbCdEfG
    """
    from tailorai.projects import revoke_key

    with _store(config) as store:
        key = revoke_key(store, prefix)
    typer.echo(f"Revoked {key.kind} key {key.prefix} of project {key.project_id}.")
