from __future__ import annotations

import math

import pytest

from tailorai.audit.text_metrics import (
    features,
    length_words,
    offensive,
    offers,
    reading_ease,
    sentiment,
)


@pytest.mark.parametrize(
    "text",
    [
        "Take 20% off everything this week.",
        "Enjoy 15 percent off your next order",
        "Here is a discount for you",
        "Use this coupon at checkout",
        "Your promo code is SPRING",
        "Save $10 on your next order",
        "Save up to 30% on dresses",
        "Free shipping on all orders",
        "Buy one, get one on socks",
        "These boots are on sale",
    ],
)
def test_discount_detected(text):
    assert offers(text)["discount"] is True


@pytest.mark.parametrize(
    "text",
    [
        "We saved your preferences.",
        "Shipping takes 3 days.",
        "100% cotton, made to last.",
        "Off the shelf and into your bag.",
        "Thanks for signing up!",
        "The sale of our old office is complete.",
    ],
)
def test_no_discount(text):
    assert offers(text)["discount"] is False


def test_discount_percents_and_prices():
    found = offers("Take 20% off, save 5% more: now $1,299.99 instead of 1500 dollars or £80")
    assert found["discount_percents"] == [20.0, 5.0]
    assert found["prices"] == [1299.99, 1500.0, 80.0]


@pytest.mark.parametrize("text", ["Version 2.0 ships in 3 days", "100% cotton", "Call 555-0100"])
def test_no_prices(text):
    assert offers(text)["prices"] == []


def test_categories_are_whole_words_from_the_vocabulary():
    found = offers("New dresses and a shoe rack", categories=["dress", "shoe", "hat"])
    assert found["categories"] == ["dress", "shoe"]
    assert offers("Chatting about that", categories=["hat"])["categories"] == []


def test_sentiment_sign():
    assert sentiment("We love you, this is a wonderful gift!") > 0.5
    assert sentiment("This is terrible and awful.") < -0.5
    assert sentiment("") == 0.0


def test_offensive_probabilities():
    polite, rude = offensive(["Have a lovely day", "you are a fucking idiot"])
    assert polite < 0.5 < rude
    assert offensive([]) == []


def test_reading_ease_formula():
    # 6 words, 1 sentence, 6 syllables: 206.835 - 1.015 * 6 - 84.6 * 1
    assert reading_ease("The cat sat on the mat.") == pytest.approx(206.835 - 6.09 - 84.6)
    assert reading_ease("The cat sat. The dog ran!") > reading_ease("The cat sat and the dog ran")
    hard = "Institutional considerations necessitate comprehensive organizational evaluation."
    assert reading_ease(hard) < 0
    assert math.isnan(reading_ease("  ...  "))


def test_length_words():
    assert length_words("Don't miss the well-known 20% sale!") == 6
    assert length_words("") == 0


def test_features_are_flat_per_text():
    rows = features(["Get 10% off hats, now $5", "Hello there"], categories=["hat"])
    assert [r["discount"] for r in rows] == [True, False]
    assert rows[0]["category:hat"] is True and rows[1]["category:hat"] is False
    assert rows[0]["mentions_price"] and rows[0]["price"] == 5.0
    assert math.isnan(rows[1]["price"])
    assert set(rows[0]) >= {"sentiment", "offensive_prob", "offensive", "reading_ease"}
    assert features([]) == []


def test_the_offensive_threshold_separates_abuse_from_harmless_edgy_text():
    """Calibrated on real outputs and a labelled set: every abusive line is over the threshold,
    every harmless one (a story's "stupid bear", a crime thriller, "I hate waiting") under."""
    import json
    from pathlib import Path

    from tailorai.audit.text_metrics import OFFENSIVE_THRESHOLD

    path = Path(__file__).parent / "fixtures" / "offensive_calibration.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    scores = offensive([row["text"] for row in rows])
    abusive = [s for s, row in zip(scores, rows, strict=True) if row["offensive"]]
    harmless = [s for s, row in zip(scores, rows, strict=True) if not row["offensive"]]
    assert len(abusive) >= 10 and len(harmless) >= 10
    assert min(abusive) >= OFFENSIVE_THRESHOLD > max(harmless)
