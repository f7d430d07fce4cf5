"""`tailor variants build`: each segment's content for a task, generated ahead of time."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from tailorai.settings import get_settings

__all__ = ["variants_app"]

variants_app = typer.Typer(help="Pre-generate content per segment.", no_args_is_help=True)


@variants_app.command("build")
def build(
    task: str = typer.Option(..., "--task", help="A task of the templates (tailor prompts list)."),
    input_: list[str] = typer.Option([], "--input", "-i", help="NAME=VALUE (repeat)."),
    name: str | None = typer.Option(None, help="What to call them (default: the task)."),
    project: str | None = typer.Option(None, "--project", help="The project (TAILOR_PROJECT)."),
    max_tokens: int = typer.Option(128, help="Tokens to generate at most, per variant."),
    config: Path | None = typer.Option(None, "--config", help="A tailor.yaml to read."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Generate a task's content once per segment (and for everyone else), to serve at once
    from GET /v1/variants/NAME?user_id=...

    Example: tailor variants build --task product_description -i product="trail boots"
    """
    from tailorai.cli.generate import parse_inputs
    from tailorai.generation import Personalizer, backend_from_settings
    from tailorai.generation.variants import Variants
    from tailorai.segments import FeatureStore
    from tailorai.segments.segmentation import Segmentations
    from tailorai.store import Store

    inputs = parse_inputs(input_)
    settings = get_settings(config)
    project = project or settings.project
    store = Store(settings.database_url)
    backend = backend_from_settings(settings)
    try:
        production = Segmentations(store, settings.home).production(project)
        segments = list(production.names.values()) if production else []
        personalizer = Personalizer(
            store=store, backend=backend, project=project, max_new_tokens=max_tokens
        )
        made = Variants(store, FeatureStore(store)).build(
            personalizer, task, inputs, segments=segments, name=name
        )
    finally:
        backend.close()
        store.close()
    if as_json:
        typer.echo(json.dumps({s: g.as_dict() for s, g in made.items()}, indent=2, default=str))
        return
    table = Table(title=f"Variants {name or task} of {project}")
    for column in ("segment", "rung", "version", "output"):
        table.add_column(column)
    for segment, g in made.items():
        table.add_row(segment, g.rung, g.model_version or "base", g.output[:80])
    Console().print(table)
