"""Audits before rollout: bias, overfitting and memorization, diversity, user fatigue."""
