"""`tailor retrain`: new data and feedback into a candidate, tried by experiment; on a schedule."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from tailorai.settings import get_settings

__all__ = ["print_run", "retrain_command"]


def print_run(run: dict[str, Any], console: Console | None = None) -> None:
    console = console or Console()
    table = Table(title=f"Retrain run {run['id']} of {run['scope']}: {run['status']}")
    for column in ("step", "status", "output"):
        table.add_column(column)
    for name, step in run["steps"].items():
        output = step.get("output") or step.get("error") or ""
        table.add_row(name, step.get("status", ""), json.dumps(output, default=str)[:90])
    console.print(table)
    console.print(f"{run['status']}: {run['reason']}")


def retrain_command(
    scope: str = typer.Option("global", help="global, segment:NAME or user:ID."),
    source: list[Path] = typer.Option([], "--source", help="New conversations (repeat)."),
    min_new_examples: int = typer.Option(20, help="Skip the run below this many examples."),
    epochs: int = typer.Option(2, help="Training epochs."),
    learning_rate: float | None = typer.Option(
        None, help="Peak learning rate (default: the method's, 2e-4 for LoRA)."
    ),
    method: str = typer.Option("lora", help="lora or dora."),
    every: str | None = typer.Option(
        None, "--every", help="Run every so often (6h, 30m, 1d), under Prefect when installed."
    ),
    rounds: int | None = typer.Option(None, help="With --every: stop after this many ticks."),
    min_feedback: int | None = typer.Option(
        None, help="Retrain only once this many new feedback items arrived."
    ),
    reward_drop: float | None = typer.Option(
        None, help="Retrain only when the mean reward fell this much day over day."
    ),
    prefect: bool = typer.Option(
        True, "--prefect/--no-prefect", help="With --every, run under Prefect if installed."
    ),
    history: bool = typer.Option(False, "--history", help="List past runs and exit."),
    project: str | None = typer.Option(None, "--project", help="Default: TAILOR_PROJECT."),
    config: Path | None = typer.Option(None, "--config", help="A tailor.yaml (retrain: part)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Retrain from new conversations and feedback: gather, prepare, fine-tune from production,
    evaluate, audit gates, then start an experiment that promotes or rolls back on its own.
    Each tick also looks at the running experiments.

    Example: tailor retrain --source new_chats.jsonl --every 6h --min-feedback 50
    """
    from tailorai.retrain import RetrainConfig, RetrainFlow
    from tailorai.retrain.schedule import every as parse_every
    from tailorai.retrain.schedule import run_forever, tick
    from tailorai.store import Store

    settings = get_settings(config)
    project = project or settings.project
    options: dict[str, Any] = dict(settings.retrain)  # tailor.yaml's retrain: part
    options.update(
        scope=scope,
        sources=[str(p) for p in source] or options.get("sources", []),
        min_new_examples=min_new_examples,
        epochs=epochs,
        method=method,
        learning_rate=learning_rate,
    )
    seconds = parse_every(every) if every else None
    console = Console(stderr=True)
    store = Store(settings.database_url)
    try:
        flow = RetrainFlow(
            store,
            project=project,
            home=settings.home,
            config=RetrainConfig.from_dict(options),
            log=lambda message: console.print(f"[dim]{message}[/dim]"),
        )
        if history:
            runs = [r.as_dict() for r in flow.runs()]
            if as_json:
                typer.echo(json.dumps(runs, indent=2, default=str))
            for run in [] if as_json else runs:
                print_run(run)
            return
        thresholds = {"min_feedback": min_feedback, "reward_drop": reward_drop}

        def once() -> dict[str, Any]:
            from tailorai.retrain.prefect_flow import available, retrain_flow

            if seconds is not None and prefect and available():
                return retrain_flow(project=project, **thresholds, **options)
            return tick(flow, **thresholds)

        def report(result: dict[str, Any]) -> None:
            if as_json:
                typer.echo(json.dumps(result, default=str))
                return
            for name, action in result["experiments"].items():
                console.print(f"Experiment {name}: {action}")
            if result["run"] is None:
                console.print(f"Not retraining: {result['why']}")
            else:
                print_run(result["run"], Console())

        if seconds is None:
            report(once())
            return

        def scheduled() -> None:
            try:
                report(once())
            except Exception as exc:  # a failed round is reported; the next one resumes it
                console.print(f"[red]This round failed: {exc}[/red]")

        console.print(f"Retraining {scope} of {project} every {every} (Ctrl-C stops).")
        try:
            run_forever(scheduled, seconds, rounds=rounds)
        except KeyboardInterrupt:  # pragma: no cover - interactive
            console.print("Stopped.")
            sys.exit(0)
    finally:
        store.close()
