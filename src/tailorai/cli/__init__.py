"""The `tailor` command: a thin layer over the library, one module per stage."""

from __future__ import annotations

import os
import sys

import typer

from tailorai import __version__
from tailorai.cli.audit import audit_app
from tailorai.cli.campaign import campaign_app
from tailorai.cli.data import data_app
from tailorai.cli.demo import demo
from tailorai.cli.evaluate import evaluate_command
from tailorai.cli.events import events_app
from tailorai.cli.experiments import experiments_app, simulate_app
from tailorai.cli.feedback import feedback_app
from tailorai.cli.generate import generate_command
from tailorai.cli.keys import keys_app
from tailorai.cli.models import models_app
from tailorai.cli.plan import plan_command
from tailorai.cli.prompts import prompts_app
from tailorai.cli.retrain import retrain_command
from tailorai.cli.segments import segments_app
from tailorai.cli.serve import serve_command
from tailorai.cli.train import train_command
from tailorai.cli.users import users_app
from tailorai.cli.variants import variants_app
from tailorai.errors import TailorError

__all__ = ["app", "main"]

app = typer.Typer(
    name="tailor",
    help="tailorai: personalize AI-generated content for every user.\n\n"
    "Example: tailor data prepare chats.jsonl mail/ --out dataset",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(data_app, name="data")
app.add_typer(models_app, name="models")
app.add_typer(keys_app, name="keys")
app.add_typer(events_app, name="events")
app.add_typer(users_app, name="users")
app.add_typer(segments_app, name="segments")
app.add_typer(prompts_app, name="prompts")
app.add_typer(variants_app, name="variants")
app.add_typer(campaign_app, name="campaign")
app.add_typer(audit_app, name="audit")
app.add_typer(experiments_app, name="experiments")
app.add_typer(feedback_app, name="feedback")
app.add_typer(simulate_app, name="simulate")
app.command(name="train")(train_command)
app.command(name="retrain")(retrain_command)
app.command(name="plan")(plan_command)
app.command(name="evaluate")(evaluate_command)
app.command(name="serve")(serve_command)
app.command(name="generate")(generate_command)
app.command(name="demo")(demo)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"tailorai {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version and exit."
    ),
) -> None:
    """tailorai: personalize AI-generated content for every user.

    Example: tailor data prepare chats.jsonl mail/ --out dataset
    """


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; a `TailorError` becomes one `Error: ...` line and exit code 1.

    Usage errors and Ctrl-C are handled by Typer itself (standalone mode), which exits.
    """
    os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")
    # transformers draws a bar for every model it loads ("Loading weights: 100%"); commands
    # print their own progress.
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    try:
        app(args=argv, prog_name="tailor")
    except TailorError as exc:
        typer.secho(f"Error: {exc}", err=True, fg="red")
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
