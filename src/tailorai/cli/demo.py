"""`tailor demo`: the main job on the embedded defaults, offline, in one command."""

from __future__ import annotations

from pathlib import Path

import typer

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
) -> None:
    """Prepare the shipped sample data (chats, email, feedback, support, persona chat, SMS).

    Example: tailor demo --out demo-out
    """
    inputs = [SAMPLES / name for name in DEMO_INPUTS]
    options = {"our_addresses": ["@shop.example"], "export": ["openai"]}
    run_prepare(inputs, out, options, config_file=None, as_json=as_json)
