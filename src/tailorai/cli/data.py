"""`tailor data ...`: prepare training data from raw user data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from tailorai.data import PrepareConfig, prepare
from tailorai.data.readers import FORMATS, parse_columns
from tailorai.settings import get_settings

__all__ = ["data_app", "print_summary", "run_prepare"]

data_app = typer.Typer(help="Prepare training data from raw user data.", no_args_is_help=True)


def _csv(value: str | None) -> list[str] | None:
    return None if value is None else [v.strip() for v in value.split(",") if v.strip()]


def run_prepare(
    inputs: list[Path],
    out: Path,
    options: dict[str, Any],
    *,
    config_file: Path | None,
    as_json: bool,
) -> dict[str, Any]:
    """Merge defaults, the config file's `data:` section and the options given; run; report."""
    settings = get_settings(config_file)
    data_options = dict(settings.data)  # the `data:` section of tailor.yaml
    data_options.update({k: v for k, v in options.items() if v is not None})
    config = PrepareConfig.from_dict(data_options)
    console = Console(stderr=True)
    with Progress(
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=as_json or not console.is_terminal,
    ) as bar:
        task = bar.add_task("Reading records", total=None)
        report = prepare(
            inputs,
            out,
            config,
            progress=lambda n: bar.update(task, description=f"Prepared {n:,} records"),
        )
    _register(report, out)
    if as_json:
        typer.echo(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        print_summary(report, out)
    return report


def _register(report: dict[str, Any], out: Path) -> None:
    from tailorai.store import Store

    store = Store()
    try:
        store.add_dataset(
            report["dataset_id"],
            str(out.resolve()),
            train_examples=report["examples"]["train"],
            validation_examples=report["examples"]["validation"],
            config=report["config"],
            report={k: v for k, v in report.items() if k not in ("inputs", "config")},
            lineage={"inputs": report["inputs"], "tailorai_version": report["tailorai_version"]},
            project=get_settings().project,
        )
    finally:
        store.close()


def print_summary(report: dict[str, Any], out: Path) -> None:
    """The report as a few readable tables."""
    console = Console()
    totals = Table(title=f"Dataset {report['dataset_id']} in {out}", show_header=False)
    totals.add_column(style="bold")
    totals.add_column(justify="right")
    totals.add_row("records in", f"{report['records_in']:,}")
    totals.add_row("records kept", f"{report['records_kept']:,}")
    for reason, count in report["records_dropped"].items():
        totals.add_row(f"  dropped: {reason}", f"{count:,}")
    totals.add_row("records quarantined", f"{report['records_quarantined']:,}")
    totals.add_row("train examples", f"{report['examples']['train']:,}")
    totals.add_row("validation examples", f"{report['examples']['validation']:,}")
    if report.get("augmented"):
        totals.add_row("  of which augmented", f"{report['augmented']['added']:,}")
    tokens = report["tokens"]
    totals.add_row("tokens p50 / p95 / max", f"{tokens['p50']} / {tokens['p95']} / {tokens['max']}")
    pii = ", ".join(f"{k} {v:,}" for k, v in report["pii"].items()) or "none found"
    totals.add_row("PII replaced", pii)
    top = list(report["languages"].items())[:6]
    totals.add_row("languages", ", ".join(f"{k} {v:,}" for k, v in top))
    console.print(totals)
    steps = Table(title="Steps")
    for column in ("step", "in", "out", "seconds"):
        steps.add_column(column, justify="left" if column == "step" else "right")
    for step in report["steps"]:
        steps.add_row(step["name"], f"{step['in']:,}", f"{step['out']:,}", f"{step['seconds']:.2f}")
    console.print(steps)
    if report["records_quarantined"]:
        console.print(
            f"{report['records_quarantined']} unreadable record(s) kept in "
            f"{out / 'quarantine.jsonl'} with their file, line and error.",
            soft_wrap=True,  # a path broken over two lines cannot be copied
        )


@data_app.command("prepare")
def prepare_command(
    inputs: list[Path] = typer.Argument(..., help="Files or folders to read.", show_default=False),
    out: Path = typer.Option(..., "--out", "-o", help="Folder to write the dataset into."),
    format: str | None = typer.Option(None, help=f"Force one format: {', '.join(FORMATS)}."),
    columns: str | None = typer.Option(
        None, help="Feedback CSV column mapping, e.g. prompt=question,response=answer."
    ),
    our_address: list[str] | None = typer.Option(
        None, help="An address or @domain that is the company's side of email threads."
    ),
    languages: str | None = typer.Option(None, help="Keep only these languages, e.g. en,es."),
    language_detector: str | None = typer.Option(None, help="fasttext (default) or lingua."),
    dedupe_threshold: float | None = typer.Option(None, help="Near-duplicate Jaccard (0.8)."),
    pii: str | None = typer.Option(None, help="placeholder (default), pseudonym or off."),
    pii_secret: str | None = typer.Option(
        None, envvar="TAILOR_PII_SECRET", help="Key that makes pseudonyms consistent across runs."
    ),
    min_chars: int | None = typer.Option(None, help="Drop records shorter than this (2)."),
    max_chars: int | None = typer.Option(None, help="Drop records longer than this (50000)."),
    min_rating: float | None = typer.Option(None, help="Drop feedback rated below this."),
    context_turns: int | None = typer.Option(None, help="Previous turns kept as context (6)."),
    model: str | None = typer.Option(None, help="Base model whose tokenizer counts tokens."),
    max_tokens: int | None = typer.Option(None, help="Trim or drop examples over this length."),
    augment: str | None = typer.Option(None, help="synonyms,backtranslate,templates (off)."),
    min_similarity: float | None = typer.Option(None, help="Augmentation meaning gate (0.8)."),
    split_by: str | None = typer.Option(None, help="user (default) or conversation."),
    validation_fraction: float | None = typer.Option(None, help="Held-out share (0.1)."),
    seed: int | None = typer.Option(None, help="Seed for split and augmentation (0)."),
    export: str | None = typer.Option(None, help="Extra output formats: openai."),
    config: Path | None = typer.Option(None, "--config", help="A tailor.yaml to read."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Clean, de-duplicate, anonymize and format raw user data for fine-tuning.

    Example: tailor data prepare chats.jsonl mail/ feedback.csv --out dataset --languages en
    """
    options: dict[str, Any] = {
        "format": format,
        "columns": parse_columns(columns) if columns else None,
        "our_addresses": our_address or None,
        "languages": _csv(languages),
        "language_detector": language_detector,
        "dedupe_threshold": dedupe_threshold,
        "pii": pii,
        "pii_secret": pii_secret,
        "min_chars": min_chars,
        "max_chars": max_chars,
        "min_rating": min_rating,
        "context_turns": context_turns,
        "model": model,
        "max_tokens": max_tokens,
        "augment": _csv(augment),
        "augment_min_similarity": min_similarity,
        "split_by": split_by,
        "validation_fraction": validation_fraction,
        "seed": seed,
        "export": _csv(export),
    }
    run_prepare(inputs, out, options, config_file=config, as_json=as_json)
