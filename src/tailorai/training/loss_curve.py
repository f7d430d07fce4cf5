"""The loss curve, drawn as a PNG beside every model version."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

__all__ = ["plot_loss_curve"]


def plot_loss_curve(
    train: Sequence[tuple[float, float]], validation: Sequence[tuple[float, float]], path: Path
) -> Path:
    """Training loss per logging step and validation loss per epoch, against epochs."""
    import matplotlib

    matplotlib.use("Agg")  # no display: draw to a file
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 4), dpi=100)
    if train:
        axes.plot(*zip(*train, strict=True), label="train", color="tab:blue")
    if validation:
        axes.plot(*zip(*validation, strict=True), "o-", label="validation", color="tab:orange")
    axes.set_xlabel("epoch")
    axes.set_ylabel("loss")
    axes.set_title("Loss")
    axes.grid(alpha=0.3)
    if train or validation:
        axes.legend()
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return path
