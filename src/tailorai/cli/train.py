"""`tailor train`: fine-tune a model or adapter for a scope and register it as a version."""

from __future__ import annotations

import contextlib
import json
import sys
import warnings
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from tailorai.settings import get_settings
from tailorai.training.config import TrainConfig

__all__ = ["print_versions", "train_command"]


def train_command(
    data: Path = typer.Option(
        ..., "--data", help="Dataset folder from `tailor data prepare` (preferences.jsonl for dpo)."
    ),
    base: str | None = typer.Option(None, "--base", help="Hub id, folder or .gguf file."),
    method: str | None = typer.Option(
        None, help="full, lora (default), dora, qlora, or dpo (preference pairs)."
    ),
    scope: str | None = typer.Option(
        None, help="global (default), segment:NAME, segment:all or user:ID."
    ),
    group_by: str | None = typer.Option(None, help="Example meta field naming segments."),
    name: str | None = typer.Option(None, help="Registry name; from the scope when unset."),
    init_from: str | None = typer.Option(None, help="Adapter version (name@N) to start from."),
    epochs: int | None = typer.Option(None, help="Training epochs (4)."),
    batch_size: int | None = typer.Option(
        None, help="Packed sequences per step (8; dpo: preference pairs, 4)."
    ),
    gradient_accumulation: int | None = typer.Option(None, help="Steps per update (1)."),
    learning_rate: float | None = typer.Option(
        None, help="5e-5 full, 2e-4 LoRA, 2e-5 dpo when unset."
    ),
    patience: int | None = typer.Option(None, help="Epochs without improvement to stop (2)."),
    max_seq_len: int | None = typer.Option(None, help="Packed length; model context if unset."),
    packing: bool | None = typer.Option(None, "--packing/--no-packing", help="Pack examples."),
    lora_r: int | None = typer.Option(None, help="LoRA rank (16)."),
    retrieval_k: int | None = typer.Option(
        None,
        help="Prompt each example with up to K of its user's other training examples "
        "(retrieval-augmented); the version then reads K wherever it is served (0).",
    ),
    min_pairs: int | None = typer.Option(None, help="dpo: fewest preference pairs (16)."),
    beta: float | None = typer.Option(None, help="dpo: pull towards the starting point (0.1)."),
    seed: int | None = typer.Option(None, help="Random seed (0)."),
    canaries: int | None = typer.Option(
        None, help="Canary secrets planted in an audit copy of the data (0), for `tailor audit`."
    ),
    resume: bool = typer.Option(False, "--resume", help="Continue a killed run."),
    config: Path | None = typer.Option(None, "--config", help="A tailor.yaml with a train: part."),
    as_json: bool = typer.Option(False, "--json", help="Print the versions as JSON."),
) -> None:
    """Fine-tune the base model (full) or an adapter (LoRA/DoRA/DPO) and register the version.

    Example: tailor train --data dataset --method lora --scope segment:all

    DPO learns from preference pairs (DIR/preferences.jsonl) and starts from --init-from:

    Example: tailor train --data feedback --method dpo --init-from global@3
    """
    from tailorai.training.finetune import FewExamplesWarning
    from tailorai.training.job import NotImprovedWarning, train
    from tailorai.training.preferences import SkippedPairsWarning

    shown = (FewExamplesWarning, NotImprovedWarning, SkippedPairsWarning)

    options: dict[str, Any] = dict(get_settings(config).train)  # tailor.yaml's train: part
    given = {
        "data": str(data),
        "base_model": base,
        "method": method,
        "scope": scope,
        "group_by": group_by,
        "name": name,
        "init_from": init_from,
        "epochs": epochs,
        "batch_size": batch_size,
        "gradient_accumulation": gradient_accumulation,
        "learning_rate": learning_rate,
        "patience": patience,
        "max_seq_len": max_seq_len,
        "packing": packing,
        "lora_r": lora_r,
        "retrieval_k": retrieval_k,
        "min_pairs": min_pairs,
        "beta": beta,
        "seed": seed,
        "canaries": canaries,
        "resume": resume or None,
    }
    options.update({k: v for k, v in given.items() if v is not None})
    train_config = TrainConfig.from_dict(options)
    console = Console(stderr=True)
    # Training logs go to stderr: stdout is for the result, which --json makes machine-readable.
    with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stdout(sys.stderr):
        for category in shown:
            warnings.simplefilter("always", category)
        versions = train(train_config, progress=not as_json)
    for warning in caught:
        if issubclass(warning.category, shown):
            # Not wrapped: a warning names files and line numbers, to be found and copied.
            console.print(f"[yellow]Warning:[/yellow] {warning.message}", soft_wrap=True)
    if not versions:
        return  # a worker process under torchrun: the main process registers and reports
    if as_json:
        typer.echo(json.dumps([v.as_dict() for v in versions], indent=2, default=str))
        return
    print_versions(versions)
    Console().print(
        f"Promote with: tailor models promote {versions[0].ref}   "
        f"(loss curve: {versions[0].path / 'loss_curve.png'})",
        soft_wrap=True,
    )


def print_versions(versions: list[Any]) -> None:
    """A table of trained versions: what they learned from and how far the loss came down."""
    table = Table(title="Trained")
    for column in (
        "version",
        "scope",
        "method",
        "train ex.",
        "val loss",
        "→ best",
        "epochs",
        "tok/s",
        "stage",
    ):
        table.add_column(column)
    for version in versions:
        m = version.metrics
        before = m.get("initial_val_loss")
        best = m.get("best_val_loss")
        table.add_row(
            version.ref,
            version.scope,
            version.method,
            str((m.get("examples") or m.get("pairs") or {}).get("train", "")),  # pairs: dpo
            f"{before:.3f}" if before is not None else "-",
            f"{best:.3f}" if best is not None else "-",
            f"{m.get('epochs_run', 0):g}",
            f"{m.get('tokens_per_s', 0):,.0f}",
            version.stage,
        )
    Console().print(table)
