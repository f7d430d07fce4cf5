"""`tailor campaign render|show|simulate`: adaptive email campaigns."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from tailorai.errors import ConfigError
from tailorai.settings import get_settings

__all__ = ["campaign_app", "read_users"]

campaign_app = typer.Typer(
    help="Render adaptive email campaigns; the bandit learns from clicks.", no_args_is_help=True
)
_PROJECT = typer.Option(None, "--project", help="The project (default: TAILOR_PROJECT).")
_CONFIG = typer.Option(None, "--config", help="A tailor.yaml to read.")
_JSON = typer.Option(False, "--json", help="Print JSON.")


def read_users(path: Path) -> list[str]:
    """User ids from a file: one per line (blank lines and `#` comments skipped)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"Could not read the users file {path}: {getattr(exc, 'strerror', None) or exc}. "
            "Pass a text file with one user id per line."
        ) from exc
    users = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    if not users:
        raise ConfigError(f"The users file {path} lists no user ids; put one per line.")
    return users


@campaign_app.command("render")
def render(
    campaign_file: Path = typer.Argument(..., help="The campaign YAML.", metavar="CAMPAIGN.yaml"),
    out: Path = typer.Option(..., "--out", help="Folder for the emails (.html, .txt)."),
    segment: str | None = typer.Option(None, "--segment", help="Everyone in this segment."),
    users_file: Path | None = typer.Option(None, "--users", help="A file of user ids."),
    limit: int | None = typer.Option(None, "--limit", min=1, help="At most this many users."),
    click_url: str | None = typer.Option(
        None,
        "--click-url",
        help="Where `tailor serve` is reached from the emails: links go through its click "
        "redirect, which records clicks. Default: TAILOR_PUBLIC_URL, else "
        "http://127.0.0.1:8000. Empty: plain links, no learning.",
    ),
    project: str | None = _PROJECT,
    config: Path | None = _CONFIG,
    as_json: bool = _JSON,
) -> None:
    """Decide, write and render one email per user; the bandit first learns from the clicks
    recorded since the last render.

    Example: tailor campaign render movie_night.yaml --segment "power users" --out emails/
    """
    from tailorai.audit.fatigue import FatigueGuard
    from tailorai.campaigns import CampaignEngine, load_campaign
    from tailorai.campaigns.render import render_campaign, write_emails
    from tailorai.generation import Personalizer, backend_from_settings
    from tailorai.segments import FeatureStore
    from tailorai.store import Store

    if (segment is None) == (users_file is None):
        raise ConfigError("Give exactly one of --segment NAME or --users FILE.")
    campaign = load_campaign(campaign_file)
    settings = get_settings(config)
    project = project or settings.project
    store = Store(settings.database_url)
    backend = None
    try:
        if users_file is not None:
            users = read_users(users_file)[:limit]
        else:
            features = FeatureStore(store)
            users = features.users_in(project, segment or "", limit)
            if not users:
                known = [s for s in features.segment_sizes(project) if s]
                raise ConfigError(
                    f"No users in segment {segment!r} of project {project!r}. Segments: "
                    f"{', '.join(map(repr, known)) or 'none (tailor segments fit --promote)'}."
                )
        backend = backend_from_settings(settings)
        personalizer = Personalizer(
            store=store,
            backend=backend,
            project=project,
            fatigue=FatigueGuard(store, project=project),
        )
        engine = CampaignEngine(store, campaign, project=project)
        if click_url is None:
            click_url = settings.public_url or "http://127.0.0.1:8000"
        emails = render_campaign(engine, personalizer, users, click_url=click_url or None)
        manifest = write_emails(emails, out)
    finally:
        if backend is not None:
            backend.close()
        store.close()
    if as_json:
        typer.echo(json.dumps([e.as_dict() for e in emails], indent=2))
        return
    table = Table(title=f"{campaign.name}: {len(emails)} emails in {out}")
    for column in ("user", "segment", "blocks, in order"):
        table.add_column(column)
    for email in emails[:20]:
        order = ", ".join(f"{b['name']} ({b['propensity']:.2f})" for b in email.blocks)
        table.add_row(email.user_id, email.segment or "-", order)
    console = Console()
    console.print(table)
    skipped = len(users) - len(emails)
    if skipped:
        console.print(
            f"{skipped} user(s) got no email: at their frequency cap, backed off, or eligible "
            "for no block (tailor audit fatigue shows the capped ones)."
        )
    console.print(f"Manifest: {manifest} (send ids, blocks, propensities, generation ids)")


def _bounds(name: str, low: float, high: float) -> str:
    if low == float("-inf"):
        return f"{name} <= {high:g}"
    if high == float("inf"):
        return f"{name} >= {low:g}"
    return f"{name} {low:g}..{high:g}"


@campaign_app.command("show")
def show(
    campaign_file: Path = typer.Argument(..., help="The campaign YAML.", metavar="CAMPAIGN.yaml"),
    project: str | None = _PROJECT,
    config: Path | None = _CONFIG,
    as_json: bool = _JSON,
) -> None:
    """Check a campaign file and show what its bandit has seen: sends and clicks per block.

    Example: tailor campaign show movie_night.yaml --project shop
    """
    from tailorai.campaigns import CampaignEngine, load_campaign
    from tailorai.store import Store

    campaign = load_campaign(campaign_file)
    settings = get_settings(config)
    store = Store(settings.database_url)
    try:
        engine = CampaignEngine(store, campaign, project=project or settings.project)
        engine.learn()
        rows = engine.summary()
    finally:
        store.close()
    if as_json:
        typer.echo(json.dumps({"campaign": campaign.name, "blocks": rows}, indent=2))
        return
    table = Table(title=f"{campaign.name} ({campaign.policy}, {campaign.slots} slots)")
    for column in ("block", "eligible", "shown", "clicks", "click-through"):
        table.add_column(column)
    for block, row in zip(campaign.blocks, rows, strict=True):
        rules = block.eligible
        who = ", ".join(
            [*(f"segment {s}" for s in rules.segments), *(f"likes {c}" for c in rules.categories)]
            + [_bounds(n, lo, hi) for n, (lo, hi) in rules.features.items()]
        )
        table.add_row(
            block.name,
            who or "everyone",
            str(row["shown"]),
            str(row["clicks"]),
            f"{row['click_through']:.1%}",
        )
    Console().print(table)


@campaign_app.command("simulate")
def simulate(
    rounds: int = typer.Option(12, min=1, help="Weekly sends to simulate."),
    seed: int = typer.Option(0, help="Seed of the simulated clicks and the bandit."),
    users: int | None = typer.Option(None, min=1, help="At most this many MovieLens members."),
    as_json: bool = _JSON,
) -> None:
    """Send the example campaign to the MovieLens members every week, with clicks drawn from
    their real genre tastes, and compare the bandit with the fixed order. Runs on a throwaway
    database.

    Example: tailor campaign simulate --rounds 12 --seed 0
    """
    from tailorai.campaigns.simulate import simulate_campaign
    from tailorai.store import Store

    with tempfile.TemporaryDirectory(prefix="tailor-simulate-") as folder:
        store = Store(f"sqlite:///{folder}/simulation.db")
        try:
            result = simulate_campaign(store, rounds=rounds, seed=seed, max_users=users)
        finally:
            store.close()
    if as_json:
        typer.echo(
            json.dumps({"rounds": result.rounds, "users": result.users, "rows": result.rows})
        )
        return
    typer.echo(f"{result.users} members, {result.rounds} weekly emails of 3 blocks each:\n")
    typer.echo(result.table())
