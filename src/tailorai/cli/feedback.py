"""`tailor feedback import|refresh|list|select|export-pairs`: what users said, put to use."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from tailorai.errors import ConfigError
from tailorai.settings import get_settings

__all__ = ["feedback_app", "parse_since"]

feedback_app = typer.Typer(
    help="User feedback on generations: import it, fold it into rewards, pick what to review "
    "or retrain on, export preference pairs.",
    no_args_is_help=True,
)
_PROJECT = typer.Option(None, "--project", help="The project (default: TAILOR_PROJECT).")
_CONFIG = typer.Option(None, "--config", help="A tailor.yaml to read.")
_JSON = typer.Option(False, "--json", help="Print JSON.")
_SINCE_MADE = typer.Option(
    None, "--since", help="Only generations made from this ISO 8601 time, e.g. 2026-11-30."
)
_SINCE_GIVEN = typer.Option(
    None, "--since", help="Only feedback given from this ISO 8601 time, e.g. 2026-11-30."
)
_SHOWN_BAD = 20


def parse_since(value: str | None) -> datetime | None:
    """`--since` as an aware datetime (UTC when it names no zone); None stays None."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(
            f"--since takes an ISO 8601 time such as 2026-11-30 or 2026-11-30T12:00:00Z; "
            f"got {value!r}."
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@contextmanager
def _store(project: str | None, config: Path | None) -> Iterator[tuple[Any, str]]:
    from tailorai.store import Store

    settings = get_settings(config)
    store = Store(settings.database_url)
    try:
        yield store, project or settings.project
    finally:
        store.close()


def _rewards(store: Any, config: Path | None) -> Any:
    """`Rewards` with the weights of --config's `feedback:` part (not only ./tailor.yaml's)."""
    from tailorai.feedback import RewardConfig, Rewards

    return Rewards(store, RewardConfig.from_dict(get_settings(config).feedback))


def _short(text: str | None, width: int = 40) -> str:
    if not text:
        return ""
    text = " ".join(text.split())
    return escape(text if len(text) <= width else text[: width - 1] + "…")


@feedback_app.command("import")
def import_command(
    file: Path = typer.Argument(..., help="A CSV or JSONL export of feedback.", metavar="FILE"),
    project: str | None = _PROJECT,
    config: Path | None = _CONFIG,
    as_json: bool = _JSON,
) -> None:
    """Import feedback from a survey tool's CSV or JSONL export.

    Columns: generation_id, thumbs (up/down), rating (1-5), comment, correction, and optionally
    id. Importing the same file again stores nothing twice; bad rows are reported with their
    line and reason and skipped.

    Example: tailor feedback import survey.csv --project shop
    """
    from tailorai.feedback import FeedbackLog

    with _store(project, config) as (store, project):
        report = FeedbackLog(store, _rewards(store, config)).import_file(project, file)
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    typer.echo(
        f"{file}: {report['stored']} stored, {report['duplicates']} already there, "
        f"{report['bad']} bad"
    )
    for bad in report["bad_lines"][:_SHOWN_BAD]:
        typer.echo(f"  line {bad['line']}: {bad['reason']}")
    if report["bad"] > _SHOWN_BAD:
        typer.echo(f"  ... and {report['bad'] - _SHOWN_BAD} more (--json lists them all)")


@feedback_app.command("refresh")
def refresh_command(
    project: str | None = _PROJECT,
    config: Path | None = _CONFIG,
    as_json: bool = _JSON,
) -> None:
    """Fold the events stored since the last refresh into the rewards.

    Feedback events become feedback rows; clicks, dwell and conversions on generated content
    update their generations' rewards.

    Example: tailor feedback refresh --project shop
    """
    with _store(project, config) as (store, project):
        rewards = _rewards(store, config)
        counts = rewards.refresh(project)
        summary = rewards.summary(project)
    if as_json:
        typer.echo(json.dumps({**counts, "summary": summary}, indent=2))
        return
    typer.echo(
        f"{counts['events']} event(s) read: {counts['feedback']} feedback row(s) stored, "
        f"{counts['rejected_feedback']} rejected, {counts['updated']} reward(s) updated."
    )
    typer.echo(
        f"{project}: {summary['generations']} generation(s) with a reward, mean "
        f"{summary['mean_reward']:+.3f}, {summary['negative']} negative."
    )


@feedback_app.command("list")
def list_command(
    generation_id: str | None = typer.Option(None, "--generation-id", help="Of one generation."),
    user_id: str | None = typer.Option(None, "--user-id", help="Of one user."),
    version: str | None = typer.Option(None, "--version", help="On one model version, NAME@N."),
    limit: int = typer.Option(50, "--limit", min=1, help="At most this many rows."),
    project: str | None = _PROJECT,
    config: Path | None = _CONFIG,
    as_json: bool = _JSON,
) -> None:
    """List feedback, newest first, with the model version it judged and its reward.

    Example: tailor feedback list --version global@2 --limit 20
    """
    from tailorai.feedback import FeedbackLog

    with _store(project, config) as (store, project):
        rows = FeedbackLog(store).find(
            project, generation_id=generation_id, user_id=user_id, version=version, limit=limit
        )
    if as_json:
        typer.echo(json.dumps(rows, indent=2, default=str))
        return
    table = Table(title=f"Feedback in {project} ({len(rows)} shown)")
    for column in ("when", "generation", "user", "thumbs", "stars", "said", "version", "reward"):
        table.add_column(column)
    for row in rows:
        thumbs = {1: "up", -1: "down"}.get(row["thumbs"], "")
        said = _short(row["correction"] and f"corrected: {row['correction']}") or _short(
            row["comment"]
        )
        table.add_row(
            row["created_at"][:16].replace("T", " "),
            row["generation_id"][:12],
            escape(row["user_key"] or "-"),
            thumbs,
            str(row["rating"] or ""),
            said,
            escape(row["model_version"] or "base"),
            f"{row['reward']:+.2f}" if row["reward"] is not None else "-",
        )
    Console().print(table)


@feedback_app.command("select")
def select_command(
    budget: int = typer.Option(..., "--budget", help="How many generations to pick (>= 1)."),
    since: str | None = _SINCE_MADE,
    out: Path | None = typer.Option(None, "--out", help="Also write them to this JSONL file."),
    review: bool = typer.Option(
        False, "--review", help="Also put them in the review queue, with their reasons."
    ),
    project: str | None = _PROJECT,
    config: Path | None = _CONFIG,
    as_json: bool = _JSON,
) -> None:
    """Pick the generations most worth retraining on or reviewing, with the reasons.

    Corrections come first, then negative feedback on busy segments, the model's least sure
    replies and requests on which rungs disagree. Run `tailor feedback refresh` first to count
    the latest events.

    Example: tailor feedback select --budget 50 --since 2026-11-01 --out review.jsonl
    """
    from tailorai.feedback.select import select_candidates

    moment = parse_since(since)
    with _store(project, config) as (store, project):
        candidates = select_candidates(store, project, budget, since=moment)
        if review:
            from tailorai.audit.review import ReviewQueue

            flagged = ReviewQueue(store, project=project).flag_selected(candidates)
            Console(stderr=True).print(f"{flagged} put in the review queue.")
    rows = [c.as_dict() for c in candidates]
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    if as_json:
        typer.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    table = Table(title=f"{len(rows)} candidate(s) in {project}")
    for column in ("#", "generation", "use", "score", "segment", "task", "why"):
        table.add_column(column)
    for rank, c in enumerate(candidates, 1):
        table.add_row(
            str(rank),
            c.generation_id,
            c.use,
            f"{c.score:.2f}",
            escape(c.segment or "-"),
            escape(c.task),
            escape("\n".join(c.reasons)),
        )
    console = Console()
    console.print(table)
    if out is not None:
        console.print(f"Written to {escape(str(out))}")


@feedback_app.command("export-pairs")
def export_pairs_command(
    out: Path = typer.Option(..., "--out", help="Folder for preferences.jsonl, corrections.jsonl."),
    since: str | None = _SINCE_GIVEN,
    project: str | None = _PROJECT,
    config: Path | None = _CONFIG,
    as_json: bool = _JSON,
) -> None:
    """Export preference pairs for DPO and corrected conversations for fine-tuning.

    OUT/preferences.jsonl: corrections, and thumbs up against thumbs down on the same prompt.
    OUT/corrections.jsonl: each correction as a conversation for `tailor data prepare`.

    Example: tailor feedback export-pairs --out feedback --since 2026-11-01
    """
    from tailorai.feedback.pairs import export_corrections, export_preferences

    moment = parse_since(since)
    with _store(project, config) as (store, project):
        preferences = export_preferences(store, project, out, since=moment)
        corrections = export_corrections(store, project, out / "corrections.jsonl", since=moment)
    train = f"tailor train --data {out} --method dpo"
    prepare = f"tailor data prepare {out / 'corrections.jsonl'} --out dataset"
    if as_json:
        report = {"preferences": preferences, "corrections": corrections, "next": [train, prepare]}
        typer.echo(json.dumps(report, indent=2))
        return
    sources = ", ".join(f"{n} from {source}" for source, n in preferences["sources"].items())
    skipped = preferences["skipped"] or {}
    typer.echo(
        f"{preferences['pairs']} preference pair(s) ({sources}) in {preferences['path']}"
        + (f"; skipped {', '.join(f'{n} {why}' for why, n in skipped.items())}" if skipped else "")
    )
    typer.echo(f"{corrections['examples']} corrected conversation(s) in {corrections['path']}")
    typer.echo(f"Next: {train}")
    if corrections["examples"]:
        typer.echo(f"  or, to fine-tune on the corrections: {prepare}")
