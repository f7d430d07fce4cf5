"""`tailor plan`: which personalization rung each user's and segment's data supports."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from tailorai.errors import ConfigError
from tailorai.settings import get_settings

__all__ = ["plan_command", "print_plan"]


def _console() -> Console:
    console = Console()
    # Piped into a file or a pager, a table needs no wrapping at 80 columns.
    return console if console.is_terminal else Console(width=140)


def plan_command(
    data: Path = typer.Option(..., "--data", help="Dataset folder from `tailor data prepare`."),
    group_by: str = typer.Option("segment", help="Example meta field that names segments."),
    few_shot_min: int = typer.Option(1, help="A user's examples from which few-shot applies."),
    user_adapter_min: int = typer.Option(100, help="A user's examples for a user adapter."),
    segment_adapter_min: int = typer.Option(200, help="A segment's examples for its adapter."),
    measure: bool = typer.Option(
        True,
        "--measure/--no-measure",
        help="Let the held-out loss of registered models decide, where there are any.",
    ),
    top: int = typer.Option(20, "--top", help="Users shown, most examples first (0: all)."),
    config: Path | None = typer.Option(None, "--config", help="A tailor.yaml to read."),
    as_json: bool = typer.Option(False, "--json", help="Print the plan as JSON."),
) -> None:
    """Recommend a rung per user and per segment: zero-shot, few-shot, segment or user adapter.

    Counts of training examples decide (thresholds below); with a validation split and
    production model versions, the measured held-out loss of each rung the counts allow does.

    Example: tailor plan --data dataset --user-adapter-min 150
    """
    from tailorai.store import Store
    from tailorai.training.ladder import LadderThresholds, plan_dataset
    from tailorai.training.registry import Registry

    thresholds = LadderThresholds(
        few_shot=few_shot_min,
        segment_adapter=segment_adapter_min,
        user_adapter=user_adapter_min,
    )
    settings = get_settings(config)
    # Counting alone needs no database: only measuring reads the registered versions.
    store = Store(settings.database_url) if measure else None
    try:
        with Console(stderr=True).status("Planning", spinner="dots"):
            result = plan_dataset(
                data,
                thresholds=thresholds,
                group_by=group_by,
                measure=measure,
                registry=Registry(store, home=settings.home) if store is not None else None,
            )
    finally:
        if store is not None:
            store.close()
    if as_json:
        typer.echo(json.dumps(result.as_dict(), indent=2, ensure_ascii=False))
        return
    if top < 0:
        raise ConfigError(f"--top must be 0 (all users) or more, got {top}.")
    print_plan(result, thresholds, data, group_by, top=top)


def print_plan(
    result: Any, thresholds: Any, data: Path, group_by: str = "segment", *, top: int = 20
) -> None:
    """The plan as two tables, users (the `top` with most examples; 0: all) and segments, with
    the rule that decided, and how many users each rung serves."""
    console = _console()
    if not result.users and not result.segments:
        console.print(
            f"No user ids and no meta.{group_by} in {data}: every request is zero-shot. "
            "Prepare data with user ids to personalize."
        )
        return
    if result.users:
        shown = sorted(result.users, key=lambda r: (-r.examples, r.name))
        hidden = shown[top:] if top else []
        shown = shown[:top] if top else shown
        title = f"Users ({len(shown)} of {len(result.users)}, most examples first)"
        table = Table(title=title if hidden else "Users")
        for column in ("user", "segment", "examples", "held out", "rung"):
            table.add_column(column, no_wrap=True)
        table.add_column("why", min_width=30)
        for r in shown:
            table.add_row(
                r.name, r.segment or "-", str(r.examples), str(r.held_out), r.rung, r.reason
            )
        console.print(table)
        by_rung = Counter(r.rung for r in result.users)
        console.print(
            "Users by rung: "
            + ", ".join(f"{rung} {n}" for rung, n in by_rung.most_common())
            + (" (all users: --top 0 or --json)" if hidden else "")
        )
    if result.segments:
        table = Table(title="Segments")
        for column in ("segment", "users", "examples", "held out", "rung"):
            table.add_column(column, no_wrap=True)
        table.add_column("why", min_width=30)
        for r in result.segments:
            table.add_row(
                r.name, str(r.users or 0), str(r.examples), str(r.held_out), r.rung, r.reason
            )
        console.print(table)
    t = thresholds
    console.print(
        f"Decided {result.note}. Thresholds: few-shot >= {t.few_shot}, user adapter >= "
        f"{t.user_adapter} of the user's examples, segment adapter >= {t.segment_adapter} of the "
        "segment's.",
        soft_wrap=True,
    )
