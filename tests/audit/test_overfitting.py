"""Overfitting read from a training run's loss curves."""

from __future__ import annotations

import pytest

from tailorai.audit.overfitting import overfitting_report


def _metrics(train, validation, **extra):
    return {"train_loss": train, "val_loss": validation, **extra}


def test_a_run_that_generalizes_passes():
    report = overfitting_report(
        "global@2",
        "global",
        _metrics([(1, 2.6), (2, 2.4)], [(1, 2.7), (2, 2.5)], epochs_run=2, stopped_early=False),
    )
    assert report.passed is True and report.best_epoch == 2
    assert report.gap == pytest.approx(0.1)


def test_training_past_the_best_and_a_wide_gap_fail():
    report = overfitting_report(
        "global@3",
        "global",
        _metrics(
            [(1, 2.0), (2, 1.0), (3, 0.4), (4, 0.1)],
            [(1, 2.2), (2, 1.9), (3, 2.1), (4, 2.4)],
            epochs_run=4,
            stopped_early=False,
        ),
    )
    gates = {g["name"]: g for g in report.gates()}
    assert report.passed is False and report.best_epoch == 2
    assert gates["generalization_gap"]["figure"] == pytest.approx(0.9)
    assert not gates["generalization_gap"]["passed"]
    assert gates["overfit_after_best"]["figure"] == pytest.approx((2.4 - 1.9) / 1.9, abs=1e-4)
    assert not gates["overfit_after_best"]["passed"]


def test_user_adapters_are_held_to_the_over_personalization_limit():
    metrics = _metrics([(1, 1.0)], [(1, 1.4)])
    assert overfitting_report("global@1", "global", metrics).passed is True  # gap 0.4 <= 0.5
    user = overfitting_report("user-u7@1", "user:u7", metrics)
    [gap] = [g for g in user.gates() if g["name"] == "over_personalization"]
    assert user.passed is False and gap["threshold"] == 0.3
    assert "the user's own texts" in gap["evidence"]


def test_a_version_without_curves_is_insufficient_data_never_a_pass():
    report = overfitting_report("global@9", "global", {"eval_loss": 2.5})
    assert report.passed is None
    assert all(g["passed"] is None for g in report.gates())
    assert report.as_dict()["passed"] is None
