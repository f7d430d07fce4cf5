"""Adaptive email campaigns: blocks chosen and ordered per user by a contextual bandit that
learns from clicks, copy written by the user's model, rendered as HTML and plain text."""

from tailorai.campaigns.bandit import Bandit, Ranking
from tailorai.campaigns.engine import CLICK_EVENT, CampaignEngine, Placement, Send
from tailorai.campaigns.spec import Block, Campaign, Eligibility, load_campaign

__all__ = [
    "CLICK_EVENT",
    "Bandit",
    "Block",
    "Campaign",
    "CampaignEngine",
    "Eligibility",
    "Placement",
    "Ranking",
    "Send",
    "load_campaign",
]
