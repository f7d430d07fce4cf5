"""`tailor prompts list|show|diff`: the versioned prompt templates per task and segment."""

from __future__ import annotations

import difflib
import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

__all__ = ["prompts_app"]

prompts_app = typer.Typer(help="List, show and compare prompt templates.", no_args_is_help=True)
_TEMPLATES = typer.Option(
    None, "--templates", help="A templates YAML file (default: the shipped one)."
)


def _load(path: Path | None):
    from tailorai.prompting import TemplateSet

    return TemplateSet.load(path)


@prompts_app.command("list")
def list_(
    templates: Path | None = _TEMPLATES,
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List every task, its segments' template versions and the inputs they need.

    Example: tailor prompts list --templates prompts.yaml
    """
    loaded = _load(templates)
    rows = [
        {
            "task": task,
            "segment": segment,
            "version": template.version,
            "inputs": list(template.placeholders),
        }
        for task, segments in sorted(loaded.tasks.items())
        for segment, template in sorted(segments.items())
    ]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table(title=f"Prompt templates {loaded.source} (version {loaded.version})")
    for column in ("task", "segment", "version", "inputs"):
        table.add_column(column)
    for row in rows:
        table.add_row(row["task"], row["segment"], row["version"], ", ".join(row["inputs"]))
    Console().print(table)


@prompts_app.command("show")
def show(
    task: str = typer.Argument(..., help="The task, e.g. product_description."),
    segment: str | None = typer.Option(None, help="The segment (default: the task's default)."),
    templates: Path | None = _TEMPLATES,
) -> None:
    """Show one template: its system prompt, its request and its version.

    Example: tailor prompts show product_description --segment buyers
    """
    template = _load(templates).get(task, segment)
    typer.echo(f"{template.task}/{template.segment}  version {template.version}\n")
    typer.echo(f"system:\n{template.text}\n\nrequest:\n{template.request}")


@prompts_app.command("diff")
def diff(
    old: Path = typer.Argument(..., help="The older templates file."),
    new: Path = typer.Argument(..., help="The newer templates file."),
) -> None:
    """What changed between two templates files, task by task and segment by segment.

    Example: tailor prompts diff prompts-v1.yaml prompts-v2.yaml
    """
    before, after = _load(old), _load(new)
    keys = sorted(
        {(t, s) for t, segs in before.tasks.items() for s in segs}
        | {(t, s) for t, segs in after.tasks.items() for s in segs}
    )
    changed = 0
    for task, segment in keys:
        a = before.tasks.get(task, {}).get(segment)
        b = after.tasks.get(task, {}).get(segment)
        text_a = f"system: {a.text}\nrequest: {a.request}\n" if a else ""
        text_b = f"system: {b.text}\nrequest: {b.request}\n" if b else ""
        if text_a == text_b:
            continue
        changed += 1
        lines = difflib.unified_diff(
            text_a.splitlines(keepends=True),
            text_b.splitlines(keepends=True),
            f"{task}/{segment} {a.version if a else '(none)'}",
            f"{task}/{segment} {b.version if b else '(none)'}",
        )
        typer.echo("".join(lines))
    typer.echo(f"{changed} template(s) changed.")
