"""The bandit: learns which block a context favours, and logs honest propensities."""

from __future__ import annotations

import numpy as np
import pytest

from tailorai.campaigns import Bandit

ARMS = ["recommendations", "new_arrivals", "discount"]


def _train(bandit: Bandit, rng: np.random.Generator, rounds: int = 3000) -> None:
    """Users with a taste `t` in [0, 1]: recommendations pay off with t, discount without."""
    for _ in range(rounds):
        taste = rng.random()
        contexts = {
            "recommendations": [taste],
            "new_arrivals": [0.5],
            "discount": [1 - taste],
        }
        for arm in bandit.rank(contexts, 3, rng).arms:
            chances = {"recommendations": 0.5 * taste, "new_arrivals": 0.1}
            chance = chances.get(arm, 0.3 * (1 - taste))
            bandit.update(arm, contexts[arm], float(rng.random() < chance))


@pytest.mark.parametrize("policy", ["thompson", "epsilon_greedy"])
def test_it_learns_what_each_context_favours(policy):
    rng = np.random.default_rng(0)
    bandit = Bandit(ARMS, 1, policy=policy)
    _train(bandit, rng)
    keen = {"recommendations": [0.95], "new_arrivals": [0.5], "discount": [0.05]}
    thrifty = {"recommendations": [0.05], "new_arrivals": [0.5], "discount": [0.95]}
    firsts = [bandit.rank(keen, 1, rng).arms[0] for _ in range(200)]
    assert firsts.count("recommendations") > 160
    firsts = [bandit.rank(thrifty, 1, rng).arms[0] for _ in range(200)]
    assert firsts.count("discount") > 160
    assert bandit.expected("recommendations", [0.9]) > bandit.expected("new_arrivals", [0.5])
    assert bandit.shown.sum() == 3 * 3000 and 0 < bandit.clicks.sum() < bandit.shown.sum()


def test_thompson_propensities_match_how_often_it_really_chooses():
    rng = np.random.default_rng(1)
    bandit = Bandit(ARMS, 1, policy="thompson")
    for _ in range(30):  # a little data: still uncertain, so choices vary
        bandit.update("recommendations", [0.5], 1.0)
        bandit.update("discount", [0.5], float(rng.random() < 0.5))
        bandit.update("new_arrivals", [0.5], 0.0)
    contexts = {arm: [0.5] for arm in ARMS}
    rankings = [bandit.rank(contexts, 1, rng) for _ in range(2000)]
    for arm in ARMS:
        chosen = [r for r in rankings if r.arms[0] == arm]
        frequency = len(chosen) / len(rankings)
        if chosen:
            logged = np.mean([r.propensities[0] for r in chosen])
            assert logged == pytest.approx(frequency, abs=0.08)


def test_epsilon_greedy_propensities_are_exact():
    rng = np.random.default_rng(2)
    bandit = Bandit(ARMS, 1, policy="epsilon_greedy", epsilon=0.3)
    for _ in range(50):
        bandit.update("discount", [1.0], 1.0)
    contexts = {arm: [1.0] for arm in ARMS}
    ranking = bandit.rank(contexts, 3, rng)
    for slot, arm in enumerate(ranking.arms):
        greedy = ["discount", "recommendations", "new_arrivals"][slot] == arm
        assert ranking.propensities[slot] == pytest.approx(0.7 * greedy + 0.3 / 3)


def test_fixed_follows_the_declared_order_and_skips_ineligible_blocks():
    bandit = Bandit(ARMS, 1, policy="fixed")
    rng = np.random.default_rng(0)
    ranking = bandit.rank({"discount": [0], "recommendations": [0]}, 3, rng)
    assert ranking.arms == ["recommendations", "discount"] and ranking.propensities == [1, 1]
    assert bandit.rank({}, 3, rng).arms == []


def test_a_prior_orders_blocks_before_any_click():
    bandit = Bandit(ARMS, 1, policy="epsilon_greedy", epsilon=0.0, prior=[0.0, 0.1, 0.05])
    ranking = bandit.rank({arm: [0.0] for arm in ARMS}, 3, np.random.default_rng(0))
    assert ranking.arms == ["new_arrivals", "discount", "recommendations"]


def test_its_state_survives_a_round_trip_unless_the_blocks_changed():
    rng = np.random.default_rng(3)
    bandit = Bandit(ARMS, 1)
    _train(bandit, rng, rounds=200)
    copy = Bandit(ARMS, 1)
    assert copy.load(bandit.state())
    assert copy.expected("discount", [0.7]) == pytest.approx(bandit.expected("discount", [0.7]))
    changed = Bandit([*ARMS, "how_to"], 1)
    assert not changed.load(bandit.state())
    assert changed.shown.sum() == 0
