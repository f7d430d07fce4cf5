"""`tailor segments fit|show|assign`: group a project's users into named segments."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from tailorai.errors import ConfigError
from tailorai.settings import get_settings

__all__ = ["print_segmentation", "segments_app"]

segments_app = typer.Typer(help="Fit, show and assign segments of users.", no_args_is_help=True)
_PROJECT = typer.Option("default", "--project", help="The users' project.")
_CONFIG = typer.Option(None, "--config", help="A tailor.yaml to read.")
_JSON = typer.Option(False, "--json", help="Print JSON.")


@contextmanager
def _segmentations(config: Path | None) -> Iterator[Any]:
    from tailorai.segments.segmentation import Segmentations
    from tailorai.store import Store

    settings = get_settings(config)
    store = Store(settings.database_url)
    try:
        yield Segmentations(store, settings.home)
    finally:
        store.close()


def _k(value: str) -> int | str:
    return value if value == "auto" else int(value) if value.isdigit() else value


@segments_app.command("fit")
def fit(
    project: str = _PROJECT,
    method: str = typer.Option(
        "kmeans", help="kmeans (MiniBatchKMeans on large data), dbscan or agglomerative."
    ),
    k: str = typer.Option("auto", help="Number of segments, or auto (best silhouette)."),
    name: list[str] = typer.Option(
        [], "--name", help="Your name for a segment, by its number: --name 0=regulars (repeat)."
    ),
    promote: bool = typer.Option(False, "--promote", help="Put it in production and assign."),
    config: Path | None = _CONFIG,
    as_json: bool = _JSON,
) -> None:
    """Fit a segmentation on every user's features and register it as version N.

    Segments are numbered by size, largest first (0, 1, ...), as `show` lists them.

    Example: tailor segments fit --project shop --k auto --promote
    """
    names = {}
    for item in name:
        label, sep, text = item.partition("=")
        if not sep or not label.strip().lstrip("-").isdigit() or not text.strip():
            raise ConfigError(f"--name takes NUMBER=NAME, e.g. --name 0=regulars; got {item!r}.")
        names[int(label)] = text.strip()
    with _segmentations(config) as segmentations:
        version = segmentations.fit(project, method=method, k=_k(k), names=names or None)
        moved = segmentations.promote(project, version.version) if promote else None
        if moved is not None:
            version = segmentations.get(project, version.version)
    if as_json:
        typer.echo(json.dumps(version.as_dict(), indent=2))
        return
    print_segmentation(version)
    if moved is not None:
        Console().print(f"In production; {moved} users assigned.")
    else:
        Console().print(
            f"Promote with: tailor segments assign --project {project} --version {version.version}"
        )


@segments_app.command("show")
def show(
    project: str = _PROJECT,
    version: int | None = typer.Option(None, help="A version (default: production, else newest)."),
    config: Path | None = _CONFIG,
    as_json: bool = _JSON,
) -> None:
    """Show a segmentation: its segments, their profiles and how k was chosen.

    Example: tailor segments show --project shop
    """
    with _segmentations(config) as segmentations:
        found = segmentations.get(project, version)
    if as_json:
        typer.echo(json.dumps(found.as_dict(), indent=2))
        return
    print_segmentation(found)


@segments_app.command("assign")
def assign(
    user: str | None = typer.Argument(None, help="One user to show; all users when left out."),
    project: str = _PROJECT,
    version: int | None = typer.Option(
        None, help="Put this version in production first (default: keep the production one)."
    ),
    config: Path | None = _CONFIG,
) -> None:
    """Assign users to the production segmentation (new events do this as they arrive).

    Example: tailor segments assign --project shop --version 2
    """
    from tailorai.segments import FeatureStore

    with _segmentations(config) as segmentations:
        chosen = segmentations.get(project, version)
        if user is None or version is not None:
            moved = segmentations.promote(project, chosen.version)
            typer.echo(f"Segmentation {chosen.version} in production; {moved} users moved.")
        if user is not None:
            record = FeatureStore(segmentations.store).get(project, user)
            if record is None:
                from tailorai.errors import DataError

                raise DataError(f"No user {user!r} in project {project!r}.")
            typer.echo(f"{user}: {record.segment or 'not assigned'}")


def print_segmentation(version: Any) -> None:
    console = Console()
    summary = version.summary
    table = Table(
        title=f"Segmentation {version.version} of {version.project_id} ({version.stage}, "
        f"{version.method}, {version.users} users)"
    )
    for column in ("segment", "users", "share", "what sets it apart"):
        table.add_column(column)
    for profile in summary.get("profiles", []):
        table.add_row(
            profile["name"],
            str(profile["size"]),
            f"{100 * profile['share']:.1f}%",
            profile.get("description", ""),
        )
    console.print(table)
    selection = Table(title="Choosing the number of segments")
    for column in ("candidate", "segments", "silhouette", "Davies-Bouldin", ""):
        selection.add_column(column)
    for row in summary.get("selection", []):
        candidate = row.get("k", row.get("eps"))
        selection.add_row(
            f"{candidate:.3g}" if isinstance(candidate, float) else str(candidate),
            str(row.get("n_clusters", "")),
            _score(row.get("silhouette")),
            _score(row.get("davies_bouldin")),
            "chosen" if row.get("chosen") else "",
        )
    console.print(selection)


def _score(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, float) else "-"
