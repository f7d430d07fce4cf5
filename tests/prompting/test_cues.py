"""Context cues: the documented mapping from user features to a short text block."""

from __future__ import annotations

import pytest

from tailorai.prompting import context_cues


def test_every_known_feature_becomes_one_line_in_the_documented_order():
    features = {
        "device": "mobile",
        "last_items": ["Trail Runner 2", "Rain Jacket"],
        "engagement": "high",
        "recent_categories": ["running", "outdoor"],
        "language": "es",
        "preferred_categories": ["shoes", "bags"],
    }
    assert context_cues(features) == (
        "About this customer:\n"
        "- Prefers: shoes, bags.\n"
        "- Recently browsed: running, outdoor.\n"
        "- Recently viewed: Trail Runner 2, Rain Jacket.\n"
        "- Engagement: high.\n"
        "- Device: mobile.\n"
        "- Language: es."
    )


@pytest.mark.parametrize(
    "features", [None, {}, {"device": None, "recent_categories": [], "last_items": [None, " "]}]
)
def test_absent_or_empty_features_give_no_block(features):
    assert context_cues(features) == ""


def test_unknown_features_never_reach_the_prompt():
    cues = context_cues({"device": "desktop", "email": "ann@example.com", "recency_days": 3})
    assert cues == "About this customer:\n- Device: desktop."


@pytest.mark.parametrize(("score", "word"), [(0.0, "low"), (0.5, "medium"), (0.9, "high")])
def test_an_engagement_score_reads_as_a_word(score, word):
    assert context_cues({"engagement": score}).endswith(f"- Engagement: {word}.")


def test_long_lists_are_capped_and_sets_sorted_and_whitespace_collapsed():
    cues = context_cues({"preferred_categories": [f"c{i}" for i in range(9)]})
    assert cues.endswith("- Prefers: c0, c1, c2, c3, c4.")
    assert context_cues({"recent_categories": {"b", "a"}}).endswith("- Recently browsed: a, b.")
    assert context_cues({"device": " smart\n tv "}).endswith("- Device: smart tv.")
