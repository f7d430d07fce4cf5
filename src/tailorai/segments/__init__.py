"""Segments: features per user (streaming and batch) and the segmenters that group users.

`Segmenter` (scikit-learn underneath) is imported on first use, so importing this package for
features alone stays fast.
"""

from __future__ import annotations

from typing import Any

from tailorai.segments.feature_store import FeatureStore, UserRecord
from tailorai.segments.features import UserFeatures, compute_features, engagement
from tailorai.segments.profile import user_profile

__all__ = [
    "FeatureStore",
    "Segmenter",
    "UserFeatures",
    "UserRecord",
    "compute_features",
    "engagement",
    "user_profile",
]


def __getattr__(name: str) -> Any:
    if name == "Segmenter":
        from tailorai.segments.segmenter import Segmenter

        return Segmenter
    raise AttributeError(f"module 'tailorai.segments' has no attribute {name!r}")
