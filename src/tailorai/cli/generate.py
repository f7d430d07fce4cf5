"""`tailor generate`: personalized content for one user, from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console

from tailorai.errors import ConfigError
from tailorai.settings import get_settings

__all__ = ["generate_command", "parse_inputs"]


def parse_inputs(items: list[str]) -> dict[str, str]:
    """`--input NAME=VALUE` options as a dict, or one clear error."""
    inputs = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise ConfigError(f"--input takes NAME=VALUE, e.g. -i product=boots; got {item!r}.")
        inputs[name.strip()] = value
    return inputs


def generate_command(
    user: str | None = typer.Argument(None, help="The user id (none: an anonymous visitor)."),
    task: str = typer.Option(..., "--task", help="A task of the templates (tailor prompts list)."),
    input_: list[str] = typer.Option(
        [], "--input", "-i", help="A template input, NAME=VALUE (repeat)."
    ),
    max_tokens: int = typer.Option(128, help="Tokens to generate at most."),
    config: Path | None = typer.Option(None, "--config", help="A tailor.yaml to read."),
    as_json: bool = typer.Option(False, "--json", help="Print the generation record as JSON."),
) -> None:
    """Generate for a user on the rung their data supports, and record it.

    Example: tailor generate u42 --task product_description -i product="trail boots"
    """
    from tailorai.generation import Personalizer, backend_from_settings
    from tailorai.store import Store

    inputs = parse_inputs(input_)
    settings = get_settings(config)
    store = Store(settings.database_url)
    backend = backend_from_settings(settings)
    try:
        record = Personalizer(store=store, backend=backend, project=settings.project).generate(
            user, task, inputs, max_new_tokens=max_tokens
        )
    finally:
        backend.close()
        store.close()
    if as_json:
        typer.echo(json.dumps(record.as_dict(), indent=2, default=str))
        return
    Console(stderr=True).print(
        f"[dim]{record.rung} on {record.model_version or 'the base model'}, segment "
        f"{record.segment or 'none'}, generation {record.id}[/dim]"
    )
    typer.echo(record.output)
