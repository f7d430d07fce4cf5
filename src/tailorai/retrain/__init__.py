"""Retraining: new data and feedback into a candidate version, tried by experiment."""

from tailorai.retrain.flow import STEPS, GateResult, RetrainConfig, RetrainFlow, RetrainRun

__all__ = ["STEPS", "GateResult", "RetrainConfig", "RetrainFlow", "RetrainRun"]
