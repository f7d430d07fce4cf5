"""The simulated MovieLens campaign: the bandit must beat the fixed order on click-through."""

from __future__ import annotations

from tailorai.campaigns.simulate import simulate_campaign
from tailorai.events import SqlEventStream
from tailorai.store import Store


def test_the_bandit_beats_the_fixed_order_on_real_tastes(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'simulation.db'}")
    result = simulate_campaign(store, rounds=6, seed=0, policies=("fixed", "thompson"))
    fixed, thompson = result.row("fixed"), result.row("thompson")
    oracle = result.row("oracle (knows true taste)")
    assert result.users == 609  # the members who rated any film 4 stars or more
    assert fixed["emails"] == thompson["emails"] == 6 * 609
    # Once it has learned (weeks 4-6), the bandit's choices are worth clearly more clicks...
    assert thompson["later_expected_ctr"] > 1.05 * fixed["later_expected_ctr"]
    assert thompson["later_ctr"] > fixed["later_ctr"]
    # ...and stay below what knowing everyone's true taste would give.
    assert thompson["later_expected_ctr"] < oracle["later_expected_ctr"]
    # Every simulated click went through the event stream the engine learned from.
    clicks, after = 0, 0
    stream = SqlEventStream(store)
    while batch := stream.read("movielens", after=after, limit=50_000):
        clicks += sum(event.event == "Email Clicked" for _, event in batch)
        after = batch[-1][0]
    assert clicks == fixed["clicks"] + thompson["clicks"]
    assert "| thompson |" in result.table()
    store.close()
