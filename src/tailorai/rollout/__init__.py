"""Rollout: sticky assignment of users to experiment arms and the statistics that judge them.

`assign` splits users by a SHA-256 hash, stable across processes and traffic ramps;
`two_proportions` and `welch` give fixed-horizon and always-valid (mSPRT) p-values,
`SequentialTest` keeps the latter safe under peeking, `prob_to_beat` is the Bayesian view and
`sample_ratio_mismatch` checks that the split is what was designed.
"""

from __future__ import annotations

from tailorai.rollout.assignment import ARM_SALT_SUFFIX, BUCKETS, assign, bucket
from tailorai.rollout.stats import (
    DEFAULT_EFFECT_SIZE,
    SRM_THRESHOLD,
    ProbToBeatResult,
    ProportionsResult,
    SequentialTest,
    SRMResult,
    WelchResult,
    prob_to_beat,
    sample_ratio_mismatch,
    two_proportions,
    welch,
    welch_from_samples,
)

__all__ = [
    "ARM_SALT_SUFFIX",
    "BUCKETS",
    "DEFAULT_EFFECT_SIZE",
    "SRM_THRESHOLD",
    "ProbToBeatResult",
    "ProportionsResult",
    "SRMResult",
    "SequentialTest",
    "WelchResult",
    "assign",
    "bucket",
    "prob_to_beat",
    "sample_ratio_mismatch",
    "two_proportions",
    "welch",
    "welch_from_samples",
]
