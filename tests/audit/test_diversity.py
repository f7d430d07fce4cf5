"""The diversity audit: the same output for every user of a segment fails, varied outputs pass,
a segment with too few outputs is insufficient data."""

from __future__ import annotations

import json

import pytest

from tailorai.audit.diversity import distinct_n, diversity_report, self_similarity
from tailorai.errors import ConfigError, DataError

VARIED = [
    "Your running shoes ship Friday; the trail pair you liked is back in stock.",
    "Thanks for the camera order. A spare battery fits the model you chose.",
    "The cookbook arrives tomorrow, and there is a recipe club on Sunday evenings.",
    "We saved the blue jacket in your size. It goes well with the wool scarf.",
    "Your garden hose is on its way; seeds for spring planting are ten percent off.",
    "Headphones for your commute: the noise cancelling pair is lighter than your last.",
]
SAME = "Thanks for your order! Check out our latest deals on popular products."


def _rows(segment: str, texts: list[str]) -> list[dict]:
    return [{"segment": segment, "user": f"{segment}-u{i}", "text": t} for i, t in enumerate(texts)]


def _gates(report) -> dict[str, dict]:
    return {gate["name"]: gate for gate in report.gates()}


@pytest.mark.parametrize(
    ("texts", "n", "expected"),
    [
        (["the cat sat", "the cat sat"], 2, 0.5),
        (["the cat sat", "a dog ran"], 2, 1.0),
        (["The cat", "the CAT!"], 1, 0.5),  # words are compared case-folded
        (["one"], 2, 0.0),  # no bigram at all
        ([SAME] * 10, 2, 0.1),
    ],
)
def test_distinct_n(texts, n, expected):
    assert distinct_n(texts, n) == pytest.approx(expected)


def test_self_similarity_is_the_mean_pairwise_jaccard():
    assert self_similarity(["the cat sat", "the cat sat", "a dog ran"]) == pytest.approx(1 / 3)
    assert self_similarity([SAME] * 4) == 1.0
    assert self_similarity(["the cat sat"]) is None
    # Pairs of one user's outputs do not count: only the two cross-user pairs are left.
    similar = self_similarity(["a b c", "a b c", "x y z"], users=["u1", "u1", "u2"])
    assert similar == 0.0


def test_self_similarity_samples_pairs_when_there_are_many():
    texts = [f"offer {i % 3} for you today" for i in range(60)]
    exact = self_similarity(texts, max_pairs=10_000)
    sampled = self_similarity(texts, max_pairs=300, seed=1)
    assert sampled == self_similarity(texts, max_pairs=300, seed=1)
    assert sampled == pytest.approx(exact, abs=0.1)


def test_the_same_output_for_every_user_fails_and_varied_outputs_pass():
    rows = _rows("bargain_hunters", [SAME] * 6) + _rows("gift_buyers", VARIED)
    report = diversity_report(rows)
    gates = _gates(report)
    assert gates["self_similarity[bargain_hunters]"]["figure"] == 1.0
    assert gates["self_similarity[bargain_hunters]"]["passed"] is False
    assert gates["distinct_2[bargain_hunters]"]["figure"] == pytest.approx(1 / 6)
    assert gates["distinct_2[bargain_hunters]"]["passed"] is False
    assert gates["self_similarity[gift_buyers]"]["figure"] < 0.1
    assert gates["self_similarity[gift_buyers]"]["passed"] is True
    assert gates["distinct_2[gift_buyers]"]["figure"] > 0.9
    assert gates["distinct_2[gift_buyers]"]["passed"] is True
    assert report.passed is False
    data = json.loads(json.dumps(report.as_dict()))
    assert data["segments"]["bargain_hunters"]["users"] == 6


def test_near_identical_outputs_with_a_name_swapped_still_fail():
    body = "thanks for your order! It ships tomorrow. Check out our latest deals on popular "
    body += "products, and remember that members get free delivery on every order this month."
    texts = [f"Hi {name}, {body}" for name in ("Ana", "Bo", "Cy", "Di", "Ed", "Flo")]
    gates = _gates(diversity_report(_rows("s", texts)))
    assert gates["self_similarity[s]"]["figure"] > 0.8
    assert gates["self_similarity[s]"]["passed"] is False


def test_a_tiny_segment_is_insufficient_data():
    rows = _rows("tiny", VARIED[:3]) + [
        {"segment": "solo", "user": "u1", "text": t} for t in VARIED
    ]
    report = diversity_report(rows, min_outputs=5)
    gates = _gates(report)
    for name in ("self_similarity[tiny]", "distinct_2[tiny]", "distinct_2[solo]"):
        assert gates[name]["passed"] is None
        assert "insufficient data" in gates[name]["evidence"][0]
    assert gates["self_similarity[solo]"]["figure"] is None  # one user: no cross-user pair
    assert report.passed is True


@pytest.mark.parametrize(
    ("rows", "options", "error"),
    [
        ([{"segment": "s", "user": "u"}], {}, DataError),
        ([], {"n": 0}, ConfigError),
        ([], {"max_self_similarity": 1.5}, ConfigError),
    ],
)
def test_bad_input(rows, options, error):
    with pytest.raises(error):
        diversity_report(rows, **options)


def test_distinct_n_in_the_report_does_not_fall_as_outputs_are_added():
    words = [f"w{i}" for i in range(60)]
    rng = __import__("random").Random(0)
    texts = [" ".join(rng.choice(words) for _ in range(12)) for _ in range(400)]
    rows = [{"segment": "all", "user": i, "text": t} for i, t in enumerate(texts)]
    small = diversity_report(rows[:40]).segments["all"].distinct
    large = diversity_report(rows).segments["all"].distinct
    assert distinct_n(texts, 2) < 0.7 * distinct_n(texts[:40], 2)  # the raw figure falls
    assert large == pytest.approx(small, abs=0.03)  # the report's does not
