"""Feedback on generations, explicit and implicit, combined into one reward per generation."""

from tailorai.feedback.log import FeedbackLog, UnknownGeneration, parse_feedback
from tailorai.feedback.rewards import RewardConfig, Rewards

__all__ = ["FeedbackLog", "RewardConfig", "Rewards", "UnknownGeneration", "parse_feedback"]
