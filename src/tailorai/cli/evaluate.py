"""`tailor evaluate`: the personalization rungs side by side on held-out examples."""

from __future__ import annotations

import json
import math
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from tailorai.settings import get_settings

__all__ = ["evaluate_command"]


def _figure(value: float | None, digits: int = 3) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:.{digits}f}"


def evaluate_command(
    data: Path = typer.Option(
        ..., "--data", help="Dataset folder; its validation split is held out."
    ),
    version: list[str] | None = typer.Option(
        None, "--version", help="A registered version (NAME@N) to score too; repeatable."
    ),
    rungs: str | None = typer.Option(
        None,
        help="Comma-separated: zero_shot, global_adapter, few_shot, global_retrieval, "
        "segment_adapter, user_adapter. All when no --version is given.",
    ),
    base: str | None = typer.Option(None, "--base", help="Base model for zero- and few-shot."),
    task: str = typer.Option("chat_reply", help="Prompt template task for zero- and few-shot."),
    templates: Path | None = typer.Option(None, help="A prompt templates YAML file."),
    group_by: str = typer.Option("segment", help="Example meta field that names segments."),
    k: int = typer.Option(3, help="The user's own examples in a few-shot prompt."),
    rouge: bool = typer.Option(True, "--rouge/--no-rouge", help="Generate and score ROUGE."),
    max_new_tokens: int = typer.Option(64, help="Longest generated reply, for ROUGE."),
    batch_size: int = typer.Option(8, help="Examples per forward pass."),
    config: Path | None = typer.Option(None, "--config", help="A tailor.yaml to read."),
    as_json: bool = typer.Option(False, "--json", help="Print the scores as JSON."),
) -> None:
    """Compare the rungs on held-out data: perplexity of the reply, ROUGE-1/L of greedy replies.

    Perplexity is the mean over users of exp(mean NLL of the reply tokens); lower is better.

    Example: tailor evaluate --data dataset --rungs global_adapter,user_adapter
    """
    from tailorai.store import Store
    from tailorai.training.evaluate import RUNGS, evaluate_dataset
    from tailorai.training.registry import Registry

    chosen = [r.strip() for r in rungs.split(",") if r.strip()] if rungs else []
    versions = list(version or [])
    settings = get_settings(config)
    store = Store(settings.database_url)
    console = Console(stderr=True)
    try:
        with console.status("Evaluating", spinner="dots") as status:
            result = evaluate_dataset(
                data,
                rungs=chosen or ([] if versions else list(RUNGS)),
                required=chosen,
                versions=versions,
                registry=Registry(store, home=settings.home),
                base_model=base,
                group_by=group_by,
                templates=templates,
                task=task,
                k=k,
                with_rouge=rouge,
                max_new_tokens=max_new_tokens,
                batch_size=batch_size,
                on_progress=lambda text: status.update(f"Evaluating {text}"),
            )
    finally:
        store.close()
    if as_json:
        typer.echo(json.dumps(result.as_dict(), indent=2, ensure_ascii=False))
        return
    out = Console() if Console().is_terminal else Console(width=140)
    table = Table(title=f"Held-out evaluation ({result.examples} examples)")
    for column in ("rung", "versions", "users", "examples", "perplexity", "ROUGE-1", "ROUGE-L"):
        table.add_column(column, no_wrap=column != "versions")
    for name, score in result.scores.items():
        shown = score.versions
        versions_text = ", ".join(shown[:3]) + (f" +{len(shown) - 3}" if len(shown) > 3 else "")
        table.add_row(
            name,
            versions_text or "base",
            str(score.users),
            str(score.examples),
            _figure(score.perplexity, 2),
            _figure(score.rouge1),
            _figure(score.rougeL),
        )
    out.print(table)
    for rung, why in result.skipped.items():
        out.print(f"Not evaluated: {rung}: {why}", soft_wrap=True)
    if result.too_long:
        out.print(f"{result.too_long} examples left out of every rung: longer than the context.")
