"""Segments: features per user (streaming and batch) and the segmenters that group users."""

from __future__ import annotations

from tailorai.segments.feature_store import FeatureStore, UserRecord
from tailorai.segments.features import UserFeatures, compute_features, engagement
from tailorai.segments.profile import user_profile

__all__ = [
    "FeatureStore",
    "UserFeatures",
    "UserRecord",
    "compute_features",
    "engagement",
    "user_profile",
]
