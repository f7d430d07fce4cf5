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
from tailorai.data.balance import (
    DEFAULT_METHODS,
    read_dataset,
    read_users,
    rebalance,
    stored_users,
    write_jsonl,
)
from tailorai.data.readers import FORMATS, parse_columns
from tailorai.errors import ConfigError, DataError
from tailorai.settings import get_settings

__all__ = ["data_app", "print_balance", "print_summary", "run_prepare"]

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
            forgotten=(settings.project, _forgotten(settings.project)),
        )
    _register(report, out)
    if as_json:
        typer.echo(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        print_summary(report, out)
    return report


def _forgotten(project: str) -> set[str]:
    """The tombstones of users erased from `project`, whose records prepare drops."""
    from tailorai.privacy import forgotten_hashes
    from tailorai.store import Store

    store = Store()
    try:
        return forgotten_hashes(store, project)
    finally:
        store.close()


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


def print_balance(report: dict[str, Any]) -> None:
    """The balance report as a table of groups, before and after, and a few lines."""
    console = Console()
    before, after = report["before"], report["after"]
    table = Table(title=f"Groups of {report['attribute']!r} in {report['input']}")
    for column in ("group", "before", "share", "after", "share", "status"):
        table.add_column(column, justify="left" if column in ("group", "status") else "right")
    now = {g["group"]: g for g in after["groups"]}
    for group in before["groups"]:
        later = now.get(group["group"], {"count": 0, "share": 0.0, "status": "removed"})
        status = group["status"]
        if later["status"] != status:
            status = f"{status} → {later['status']}"
        table.add_row(
            group["group"],
            f"{group['count']:,}",
            f"{group['share']:.1%}",
            f"{later['count']:,}",
            f"{later['share']:.1%}",
            status,
        )
    console.print(table)

    def verdict(r: dict[str, Any]) -> str:
        ratio = "n/a" if r["ratio"] is None else f"{r['ratio']:.2f}"
        return f"{ratio} ({r['verdict']})"

    console.print(
        f"smallest / largest group: {verdict(before)} → {verdict(after)}; "
        f"under-represented below {before['min_ratio']:g} of the largest, "
        f"insufficient data under {before['min_group']} records"
    )
    if report["target"] is not None:
        done = []
        if report["augmented"] or report["duplicated"]:
            why = " (where augmentation found no new phrasing)" if report["augment_methods"] else ""
            done.append(
                f"{report['augmented']:,} added by augmentation, {report['duplicated']:,} as "
                f"exact copies{why}"
            )
        if report["removed"]:
            done.append(f"{report['removed']:,} removed")
        console.print(
            f"{report['strategy']} to {report['target']:,} records per group: "
            f"{'; '.join(done) or 'nothing to change'}"
        )
    if report["quarantined"]:
        where = f", kept in {report['quarantine']}" if report.get("quarantine") else ""
        console.print(f"{report['quarantined']} unreadable line(s) quarantined{where}")
    if report["note"]:
        console.print(report["note"])
    if report.get("out"):
        console.print(f"Balanced dataset: {report['out']}", soft_wrap=True)


@data_app.command("balance")
def balance_command(
    dataset: Path = typer.Argument(
        ...,
        metavar="INPUT",
        help="A dataset: JSONL as `tailor data prepare` writes it, its folder (train.jsonl is "
        "read), or any file `tailor data prepare` reads.",
        show_default=False,
    ),
    by: str = typer.Option(
        ...,
        "--by",
        help="The group attribute, e.g. gender: a record key, a key of its meta, or "
        "a users column.",
    ),
    users: Path | None = typer.Option(
        None, "--users", help="Users CSV or JSONL with a user_id column, joined on user_id."
    ),
    users_table: bool = typer.Option(
        False, "--users-table", help="Join the traits stored in the database's users table."
    ),
    project: str | None = typer.Option(None, help="The project --users-table reads."),
    strategy: str = typer.Option(
        "upsample", help="upsample (augment small groups), downsample or both (to the median)."
    ),
    augment: str = typer.Option(
        ",".join(DEFAULT_METHODS),
        help="Augmenters for upsampling: synonyms,backtranslate,templates, or off (copies only).",
    ),
    min_similarity: float = typer.Option(0.8, help="Augmentation meaning gate."),
    min_group: int = typer.Option(30, help="Groups smaller than this are insufficient data."),
    min_ratio: float = typer.Option(
        0.8, help="A group under this fraction of the largest is under-represented."
    ),
    out: Path | None = typer.Option(None, "--out", "-o", help="Write the balanced JSONL here."),
    report: Path | None = typer.Option(None, "--report", help="Write the report (JSON) here."),
    seed: int = typer.Option(0, help="Seed for sampling and augmentation."),
    config: Path | None = typer.Option(None, "--config", help="A tailor.yaml to read."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Report how each group is represented in a dataset, and rebalance it.

    Example: tailor data balance dataset/train.jsonl --by gender --users users.csv --out bal.jsonl
    """
    if users is not None and users_table:
        raise ConfigError("Give --users FILE or --users-table, not both.")
    data = read_dataset(dataset)
    people = read_users(users) if users is not None else None
    if users_table:
        from tailorai.store import Store

        settings = get_settings(config)
        store = Store(settings.database_url)
        try:
            people = stored_users(store, project or settings.project)
        finally:
            store.close()
    methods = "" if augment.strip().lower() in ("off", "none") else augment
    result = rebalance(
        data,
        by,
        strategy=strategy,
        users=people,
        seed=seed,
        methods=methods,
        min_similarity=min_similarity,
        min_group=min_group,
        min_ratio=min_ratio,
    )
    payload: dict[str, Any] = {"input": str(data.path), **result.report.as_dict()}
    if out is not None:
        write_jsonl(out, result.records)
        payload["out"] = str(out)
        if data.quarantined:
            quarantine = out.with_name(f"{out.stem}.quarantine.jsonl")
            write_jsonl(quarantine, (q.as_dict() for q in data.quarantined))
            payload["quarantine"] = str(quarantine)
    if report is not None:
        try:
            report.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
        except OSError as exc:
            raise DataError(f"Cannot write the report to {report}: {exc.strerror}.") from exc
    if as_json:
        typer.echo(json.dumps(payload, indent=2, ensure_ascii=False))
    else:
        print_balance(payload)
