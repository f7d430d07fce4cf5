"""`tailor experiments start|list|show|evaluate|stop` and `tailor simulate rollout`."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from tailorai.settings import get_settings

__all__ = ["experiments_app", "print_experiment", "simulate_app"]

experiments_app = typer.Typer(
    help="Roll model versions out by experiment: start, watch, decide, stop.",
    no_args_is_help=True,
)
simulate_app = typer.Typer(help="Simulations on the real system.", no_args_is_help=True)
_PROJECT = typer.Option(None, "--project", help="The project (default: TAILOR_PROJECT).")
_CONFIG = typer.Option(None, "--config", help="A tailor.yaml to read.")
_JSON = typer.Option(False, "--json", help="Print JSON.")


@contextmanager
def _experiments(project: str | None, config: Path | None) -> Iterator[Any]:
    from tailorai.rollout.experiments import Experiments
    from tailorai.store import Store
    from tailorai.training.registry import Registry

    settings = get_settings(config)
    project = project or settings.project
    store = Store(settings.database_url)
    try:
        registry = Registry(store, home=settings.home, project=project)
        yield Experiments(store, registry, project=project)
    finally:
        store.close()


def print_experiment(experiment: Any, console: Console | None = None) -> None:
    """An experiment's arms, figures and decision as tables."""
    console = console or Console()
    decision = experiment.decision or {}
    table = Table(
        title=f"Experiment {experiment.name} on {experiment.scope}: {experiment.status} "
        f"(traffic {experiment.traffic:.0%}, metric {experiment.metric})"
    )
    for column in ("arm", "version", "weight", "units", "rate", "mean reward", "negative"):
        table.add_column(column)
    for arm in experiment.arms:
        figures = decision.get("arms", {}).get(arm["name"], {})
        table.add_row(
            arm["name"],
            arm["version"] or "base",
            f"{arm['weight']:g}",
            str(figures.get("units", 0)),
            f"{figures.get('rate', 0.0):.2%}",
            f"{figures.get('mean_reward', 0.0):.3f}",
            f"{figures.get('negative_rate', 0.0):.2%}",
        )
    console.print(table)
    if decision:
        low, high = decision.get("confidence_sequence") or [None, None]
        low = "-inf" if low is None else f"{low:+.4f}"
        high = "inf" if high is None else f"{high:+.4f}"
        console.print(
            f"Difference {decision.get('difference', 0.0):+.4f} (always-valid 95% interval "
            f"{low} to {high}), always-valid p = {decision.get('always_valid_p', 1):.3g}"
            + (
                f", P(candidate beats control) = {decision['prob_candidate_beats_control']:.2f}"
                if "prob_candidate_beats_control" in decision
                else ""
            )
        )
        console.print(f"Decision: {decision.get('action')}: {decision.get('reason')}")


@experiments_app.command("start")
def start(
    name: str = typer.Argument(..., help="A name for the experiment."),
    candidate: str = typer.Option(..., "--candidate", help="The version to try, NAME@N."),
    control: str | None = typer.Option(
        None, "--control", help="The version to beat (default: production of its scope)."
    ),
    metric: str = typer.Option("click", help="click, conversion or reward."),
    ramp: str = typer.Option("0.05,0.25,0.5,1", help="Traffic shares, stage by stage."),
    min_units: int = typer.Option(200, help="Units per arm in a stage before ramping up."),
    max_days: float = typer.Option(14.0, help="Days before stopping as inconclusive."),
    project: str | None = _PROJECT,
    config: Path | None = _CONFIG,
) -> None:
    """Start trying a candidate version against production, on a traffic ramp.

    Example: tailor experiments start global-v2 --candidate global@2 --metric click
    """
    from tailorai.errors import ConfigError
    from tailorai.rollout.experiments import ExperimentSettings

    try:
        shares = [float(x) for x in ramp.split(",") if x.strip()]
    except ValueError:
        raise ConfigError(f"--ramp takes shares such as 0.05,0.25,0.5,1; got {ramp!r}.") from None
    settings = ExperimentSettings(ramp=shares, min_units=min_units, max_days=max_days)
    with _experiments(project, config) as experiments:
        made = experiments.create(
            name, candidate, control=control, metric=metric, settings=settings
        )
    print_experiment(made)


@experiments_app.command("list")
def list_(project: str | None = _PROJECT, config: Path | None = _CONFIG, as_json: bool = _JSON):
    """List experiments, newest first.

    Example: tailor experiments list --project shop
    """
    with _experiments(project, config) as experiments:
        found = experiments.list()
    if as_json:
        typer.echo(json.dumps([e.as_dict() for e in found], indent=2, default=str))
        return
    table = Table(title="Experiments")
    for column in ("name", "scope", "status", "traffic", "control", "candidate", "decision"):
        table.add_column(column)
    for e in found:
        table.add_row(
            e.name,
            e.scope,
            e.status,
            f"{e.traffic:.0%}",
            e.arms[0]["version"] or "base",
            e.arms[1]["version"],
            (e.decision.get("reason") or "-")[:60],
        )
    Console().print(table)


@experiments_app.command("show")
def show(
    name: str = typer.Argument(..., help="The experiment."),
    project: str | None = _PROJECT,
    config: Path | None = _CONFIG,
    as_json: bool = _JSON,
) -> None:
    """Show an experiment's arms, figures and last decision.

    Example: tailor experiments show global-v2
    """
    with _experiments(project, config) as experiments:
        found = experiments.get(name)
    if as_json:
        typer.echo(json.dumps(found.as_dict(), indent=2, default=str))
        return
    print_experiment(found)


@experiments_app.command("evaluate")
def evaluate(
    name: str = typer.Argument(..., help="The experiment."),
    project: str | None = _PROJECT,
    config: Path | None = _CONFIG,
    as_json: bool = _JSON,
) -> None:
    """Look at an experiment now and act: ramp up, promote, roll back or stop.

    Example: tailor experiments evaluate global-v2   (e.g. hourly, from cron)
    """
    with _experiments(project, config) as experiments:
        decision = experiments.evaluate(name)
        found = experiments.get(name)
    if as_json:
        typer.echo(json.dumps(decision, indent=2, default=str))
        return
    print_experiment(found)


@experiments_app.command("stop")
def stop(
    name: str = typer.Argument(..., help="The experiment."),
    reason: str = typer.Option("stopped by hand", help="Why, for the record."),
    project: str | None = _PROJECT,
    config: Path | None = _CONFIG,
) -> None:
    """Stop an experiment; production stays as it is.

    Example: tailor experiments stop global-v2 --reason "holiday traffic"
    """
    with _experiments(project, config) as experiments:
        found = experiments.stop(name, reason)
    print_experiment(found)


@simulate_app.command("rollout")
def simulate_rollout_command(
    lift: list[float] = typer.Option(
        [0.3, -0.3, 0.0], "--lift", help="The candidate's true click-through lift (repeat)."
    ),
    srm: float = typer.Option(0.3, help="Also run A/A with this share of one arm lost."),
    seeds: int = typer.Option(1, min=1, help="Seeded runs per scenario."),
    users_per_day: int = typer.Option(2000, min=10, help="New users a day."),
    max_days: int = typer.Option(14, min=1, help="Days before stopping as inconclusive."),
    as_json: bool = _JSON,
) -> None:
    """Simulated users on the real experiment machinery: a better candidate must be promoted,
    a worse one rolled back, A/A must end inconclusive, a broken split must be flagged. Runs
    on a throwaway database.

    Example: tailor simulate rollout --seeds 5
    """
    from tailorai.rollout.simulate import simulate_rollout
    from tailorai.store import Store

    scenarios = [{"lift": x} for x in lift] + ([{"lift": 0.0, "srm": srm}] if srm else [])
    results = []
    with tempfile.TemporaryDirectory(prefix="tailor-rollout-") as folder:
        store = Store(f"sqlite:///{folder}/simulation.db")
        try:
            for scenario in scenarios:
                for seed in range(seeds):
                    results.append(
                        simulate_rollout(
                            store,
                            Path(folder),
                            seed=seed,
                            users_per_day=users_per_day,
                            max_days=max_days,
                            **scenario,
                        )
                    )
        finally:
            store.close()
    if as_json:
        typer.echo(json.dumps([r.__dict__ | {"correct": r.correct} for r in results], indent=2))
        return
    table = Table(title=f"Simulated rollouts ({users_per_day:,} new users a day)")
    for column in ("true lift", "lost", "decision", "expected", "day", "units", "p", "why"):
        table.add_column(column)
    for r in results:
        table.add_row(
            f"{r.lift:+.0%}",
            f"{r.srm:.0%}",
            r.outcome,
            r.expected,
            str(r.days),
            " / ".join(str(n) for n in r.units.values()),
            f"{r.always_valid_p:.3g}",
            r.reason[:70],
        )
    console = Console()
    console.print(table)
    right = sum(r.correct for r in results)
    console.print(f"{right} of {len(results)} decisions right.")


@simulate_app.command("chatbot")
def simulate_chatbot_command(
    cycles: int = typer.Option(4, min=1, max=20, help="Retrain cycles (a week of chats each)."),
    customers: int = typer.Option(120, min=4, help="Customers a cycle."),
    epochs: int = typer.Option(2, min=1, help="Epochs of each retrain."),
    threshold: float = typer.Option(0.2, help="ROUGE-L a reply needs to satisfy."),
    seed: int = typer.Option(0, help="Seed of the question order."),
    plot: Path = typer.Option(Path("chatbot-escalations.png"), help="Where to write the PNG."),
    as_json: bool = _JSON,
) -> None:
    """Support customers chat with the shipped model and rate it; poor replies escalate to an
    agent whose answer becomes a correction; each cycle retrains on them and tries the
    candidate in an experiment. Runs on a throwaway database.

    Example: tailor simulate chatbot --cycles 4 --customers 120
    """
    from tailorai.retrain.chatbot import simulate_chatbot
    from tailorai.store import Store

    with tempfile.TemporaryDirectory(prefix="tailor-chatbot-") as folder:
        store = Store(f"sqlite:///{folder}/simulation.db")
        try:
            result = simulate_chatbot(
                store,
                Path(folder),
                cycles=cycles,
                customers=customers,
                epochs=epochs,
                threshold=threshold,
                seed=seed,
                log=lambda message: typer.echo(message, err=True),
            )
        finally:
            store.close()
    result.plot(plot)
    if as_json:
        typer.echo(json.dumps({"threshold": result.threshold, "rows": result.rows}, default=str))
        return
    typer.echo(result.table())
    typer.echo(f"\nPlot: {plot} ({result.seconds:.0f} s)")
