"""`tailor demo`: the main job on the embedded defaults, offline, in one command."""

from __future__ import annotations

import contextlib
import json
import sys
import warnings
from pathlib import Path

import typer
from rich.console import Console

from tailorai.cli.data import run_prepare

__all__ = ["SAMPLES", "demo"]

SAMPLES = Path(__file__).resolve().parent.parent / "assets" / "samples"
DEMO_INPUTS = (
    "support_chats.jsonl",
    "support_mail.mbox",
    "feedback_form.csv",
    "Bitext_Sample_Customer_Support_Training_Dataset_4514.csv",
    "Synthetic-Persona-Chat_valid.csv",
    "SMSSpamCollection",
)


def demo(
    out: Path = typer.Option(Path("demo-out"), "--out", "-o", help="Folder for the dataset."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    train_adapter: bool = typer.Option(
        True, "--train/--no-train", help="Also train and promote a LoRA adapter."
    ),
) -> None:
    """Prepare the shipped samples, then train and promote a LoRA adapter on them.

    The samples: chats, email, feedback, customer support, persona chat and SMS.

    Example: tailor demo --out demo-out
    """
    inputs = [SAMPLES / name for name in DEMO_INPUTS]
    options = {"our_addresses": ["@shop.example"], "export": ["openai"]}
    run_prepare(inputs, out, options, config_file=None, as_json=as_json)
    if not train_adapter:
        return
    # A quick LoRA adapter on a sample of the prepared data: minutes on a laptop CPU, and the
    # same code path as a full `tailor train`.
    from tailorai.cli.train import print_versions
    from tailorai.training import Registry, TrainConfig, train

    console = Console(stderr=True)
    console.print("Training a LoRA adapter on 400 of the prepared examples (1 epoch)...")
    config = TrainConfig(data=str(out), method="lora", epochs=1, max_examples=400, name="demo")
    with warnings.catch_warnings(), contextlib.redirect_stdout(sys.stderr):
        warnings.simplefilter("ignore")
        versions = train(config, progress=False)
    registry = Registry()
    promoted = registry.promote(versions[0].ref)
    from tailorai.cli.plan import print_plan
    from tailorai.training.ladder import LadderThresholds, plan_dataset

    thresholds = LadderThresholds()
    ladder = plan_dataset(out, thresholds=thresholds, measure=False, registry=registry)
    if as_json:
        typer.echo(json.dumps([promoted.as_dict()], indent=2, default=str))
        typer.echo(json.dumps(ladder.as_dict(), indent=2, ensure_ascii=False))
    else:
        print_versions([promoted])
        print_plan(ladder, thresholds, out, top=10)
