"""Overfitting, read from a training run's own record (`metrics.json` of a registered version).

For one version, from its loss curves (`train_loss`, `val_loss`: (epoch, loss) pairs):

- generalization gap: the best validation loss minus the training loss logged closest before
  that epoch; over `max_gap` (nats per token) the model fits its training data far better than
  held-out data;
- overfitting after the best: the last validation loss above the best by more than
  `max_rise` (a share): training went on past the point it generalized best (early stopping
  fired late, or not at all);
- where early stopping fired: `epochs_run` against the epochs asked, and the best epoch.

A user adapter (`user:ID` scope) is over-personalized when its gap exceeds `max_user_gap`:
far better on the user's own training texts than on their held-out ones. A version without
curves is "insufficient data" (passed None), never a pass.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["OverfittingReport", "overfitting_report"]


@dataclass
class OverfittingReport:
    ref: str
    scope: str
    best_epoch: float | None
    epochs_run: float | None
    stopped_early: bool | None
    gap: float | None
    rise_after_best: float | None
    checks: list[dict[str, Any]] = field(default_factory=list)

    def gates(self) -> list[dict[str, Any]]:
        return list(self.checks)

    @property
    def passed(self) -> bool | None:
        verdicts = [c["passed"] for c in self.checks]
        if any(v is False for v in verdicts):
            return False
        return None if any(v is None for v in verdicts) else True

    def as_dict(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "scope": self.scope,
            "best_epoch": self.best_epoch,
            "epochs_run": self.epochs_run,
            "stopped_early": self.stopped_early,
            "gap": self.gap,
            "rise_after_best": self.rise_after_best,
            "passed": self.passed,
            "gates": self.gates(),
        }


def _curve(points: Any) -> list[tuple[float, float]]:
    found = []
    for point in points or []:
        if isinstance(point, Sequence) and len(point) == 2:
            epoch, loss = point
            if isinstance(epoch, int | float) and isinstance(loss, int | float):
                found.append((float(epoch), float(loss)))
    return sorted(found)


def overfitting_report(
    ref: str,
    scope: str,
    metrics: Mapping[str, Any],
    *,
    max_gap: float = 0.5,
    max_user_gap: float = 0.3,
    max_rise: float = 0.05,
) -> OverfittingReport:
    """The overfitting checks of one version (`ref`, `scope`, its `metrics`) as gates."""
    train, validation = _curve(metrics.get("train_loss")), _curve(metrics.get("val_loss"))
    report = OverfittingReport(
        ref=ref,
        scope=scope,
        best_epoch=None,
        epochs_run=metrics.get("epochs_run"),
        stopped_early=metrics.get("stopped_early"),
        gap=None,
        rise_after_best=None,
    )
    user = scope.startswith("user:")
    limit = max_user_gap if user else max_gap
    name = "over_personalization" if user else "generalization_gap"
    if not train or not validation:
        report.checks = [
            {
                "name": name,
                "figure": None,
                "threshold": limit,
                "passed": None,
                "evidence": f"insufficient data: {ref} has no loss curves in its metrics",
            },
            {
                "name": "overfit_after_best",
                "figure": None,
                "threshold": max_rise,
                "passed": None,
                "evidence": "insufficient data: no validation curve",
            },
        ]
        return report
    best_epoch, best = min(validation, key=lambda point: (point[1], point[0]))
    before = [loss for epoch, loss in train if epoch <= best_epoch] or [train[0][1]]
    report.best_epoch = best_epoch
    report.gap = best - before[-1]
    last = validation[-1][1]
    report.rise_after_best = (last - best) / best if best > 0 else 0.0
    report.checks = [
        {
            "name": name,
            "figure": round(report.gap, 4),
            "threshold": limit,
            "passed": report.gap <= limit,
            "evidence": (
                f"best validation loss {best:.4f} at epoch {best_epoch:g} against training "
                f"loss {before[-1]:.4f}"
                + (" (on the user's own texts against their held-out ones)" if user else "")
            ),
        },
        {
            "name": "overfit_after_best",
            "figure": round(report.rise_after_best, 4),
            "threshold": max_rise,
            "passed": report.rise_after_best <= max_rise,
            "evidence": (
                f"validation loss {last:.4f} at the end against {best:.4f} at its best; ran "
                f"{report.epochs_run} epochs" + (", stopped early" if report.stopped_early else "")
            ),
        },
    ]
    return report
