"""Context cues: the documented mapping from user features to a short text block."""

from __future__ import annotations

from datetime import UTC, datetime

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
        "recency_days": 3.4,
        "purchases": 2,
    }
    assert context_cues(features) == (
        "About this customer:\n"
        "- Favourite categories: shoes, bags.\n"
        "- Recently browsed: running, outdoor.\n"
        "- Recently viewed: Trail Runner 2, Rain Jacket.\n"
        "- Last visit: 3 days ago.\n"
        "- Purchases: 2.\n"
        "- Engagement: high.\n"
        "- Device: mobile.\n"
        "- Language: es."
    )


def test_the_features_the_feature_store_computes_become_cues():
    """The keys `UserFeatures.values` gives (top_categories, device_mix, a 0-100 engagement)
    reach the prompt: before, only hand-made names did, so stored users all got one prompt."""
    from tailorai.records import Event
    from tailorai.segments.features import UserFeatures

    now = datetime(2026, 12, 1, tzinfo=UTC)
    user = UserFeatures()
    for day, genres in ((1, ["Sci-Fi", "Thriller"]), (2, ["Sci-Fi"]), (3, ["Drama"])):
        user.update(
            Event(
                type="track",
                message_id=f"m{day}",
                event="Movie Rated",
                timestamp=now.replace(day=day),
                received_at=now,
                user_id="u1",
                properties={"categories": genres},
                context={"device": {"type": "mobile"}},
            )
        )
    cues = context_cues(user.values(now.replace(day=3, hour=12)))
    assert "- Favourite categories: Sci-Fi, Drama, Thriller." in cues
    assert "- Last visit: today." in cues
    assert "- Purchases: none yet." in cues
    assert "- Device: mobile." in cues
    assert "- Engagement: low." in cues


@pytest.mark.parametrize(
    ("days", "line"),
    [
        (0.2, "- Last visit: today."),
        (1.5, "- Last visit: yesterday."),
        (29.9, "- Last visit: 29 days ago."),
        (45, "- Last visit: 45 days ago (a lapsed customer: welcome them back)."),
        (900, "- Last visit: over a year ago (a lapsed customer: welcome them back)."),
    ],
)
def test_recency_reads_as_words_and_a_lapsed_customer_is_named_as_one(days, line):
    assert context_cues({"recency_days": days}).endswith(line)


@pytest.mark.parametrize(
    "features", [None, {}, {"device": None, "recent_categories": [], "last_items": [None, " "]}]
)
def test_absent_or_empty_features_give_no_block(features):
    assert context_cues(features) == ""


def test_unknown_and_private_features_never_reach_the_prompt():
    cues = context_cues({"device": "desktop", "email": "ann@example.com", "revenue": 310.0})
    assert cues == "About this customer:\n- Device: desktop."


@pytest.mark.parametrize(
    ("score", "word"), [(0.0, "low"), (0.5, "medium"), (0.9, "high"), (12.0, "low"), (80, "high")]
)
def test_an_engagement_score_reads_as_a_word(score, word):
    assert context_cues({"engagement": score}).endswith(f"- Engagement: {word}.")


def test_the_main_device_of_a_device_mix_is_named():
    cues = context_cues({"device_mix": {"desktop": 0.25, "mobile": 0.75}})
    assert cues.endswith("- Device: mobile.")


def test_long_lists_are_capped_and_sets_sorted_and_whitespace_collapsed():
    cues = context_cues({"preferred_categories": [f"c{i}" for i in range(9)]})
    assert cues.endswith("- Favourite categories: c0, c1, c2, c3, c4.")
    assert context_cues({"recent_categories": {"b", "a"}}).endswith("- Recently browsed: a, b.")
    assert context_cues({"device": " smart\n tv "}).endswith("- Device: smart tv.")
