"""The personalization ladder: count thresholds, and measured held-out loss overriding them."""

from __future__ import annotations

import pytest

from tailorai.errors import ConfigError
from tailorai.store import Store
from tailorai.training import Registry
from tailorai.training.evaluate import Evaluation, ItemScore, RungScore
from tailorai.training.ladder import LadderThresholds, plan, plan_dataset, supported_rungs
from tests.training.conftest import write_dataset
from tests.training.test_evaluate import one_torch_thread, trained_home  # noqa: F401


def _rows(user: str, segment: str, n: int) -> list[dict]:
    return [
        {
            "id": f"{user}-{i}",
            "user_id": user,
            "messages": [
                {"role": "user", "content": f"q{i}"},
                {"role": "assistant", "content": f"a{i}"},
            ],
            "meta": {"segment": segment},
        }
        for i in range(n)
    ]


@pytest.mark.parametrize(
    ("user", "segment", "expected"),
    [
        (0, 0, ["zero_shot"]),
        (0, 500, ["zero_shot", "segment_adapter"]),  # a cold user still gets the segment's
        (1, 199, ["zero_shot", "few_shot"]),  # one own text already helps SmolLM2
        (99, 200, ["zero_shot", "few_shot", "segment_adapter"]),
        (100, 150, ["zero_shot", "few_shot", "user_adapter"]),
        (400, 900, ["zero_shot", "few_shot", "segment_adapter", "user_adapter"]),
    ],
)
def test_default_thresholds(user, segment, expected):
    assert supported_rungs(user, segment) == expected


def test_thresholds_are_validated():
    with pytest.raises(ConfigError, match="'user_adapter' threshold of the ladder must be an int"):
        LadderThresholds(user_adapter=0)


def test_plan_by_counts_per_user_and_segment():
    train = _rows("big", "pros", 120) + _rows("mid", "pros", 90) + _rows("few", "fans", 6)
    result = plan(train, _rows("new", "fans", 2))
    rungs = {r.name: r.rung for r in result.users}
    assert rungs == {
        "big": "user_adapter",
        "mid": "segment_adapter",  # pros has 210 examples
        "few": "few_shot",
        "new": "zero_shot",
    }
    assert [r.name for r in result.users] == ["big", "mid", "few", "new"]  # most data first
    new = next(r for r in result.users if r.name == "new")
    assert (new.examples, new.held_out, new.segment) == (0, 2, "fans")
    assert "0 examples < 1" in new.reason
    segments = {r.name: (r.rung, r.users, r.examples) for r in result.segments}
    assert segments == {"pros": ("segment_adapter", 2, 210), "fans": ("zero_shot", 2, 6)}
    assert not result.measured and result.as_dict()["thresholds"]["user_adapter"] == 100


def _evaluation(losses: dict[str, dict[str, float]]) -> Evaluation:
    """Rung -> user -> loss, as one scored item of one token per user."""
    return Evaluation(
        scores={
            rung: RungScore(
                rung, [ItemScore(f"{u}-x", u, "pros", nll=v, tokens=1) for u, v in by.items()]
            )
            for rung, by in losses.items()
        },
        examples=1,
    )


def test_measured_loss_overrides_the_counts_within_what_they_support():
    train = _rows("big", "pros", 120) + _rows("small", "pros", 5)
    evaluation = _evaluation(
        {
            "zero_shot": {"big": 3.0, "small": 3.0},
            "global_adapter": {"big": 2.0, "small": 2.0},
            "few_shot": {"big": 1.5, "small": 2.5},
            "user_adapter": {"big": 1.8, "small": 0.5},  # small has no user adapter by counts
        }
    )
    result = plan(train, _rows("big", "pros", 1), evaluation=evaluation)
    big, small = result.users
    assert (big.by_counts, big.rung) == ("user_adapter", "few_shot")
    assert "overrides user_adapter" in big.reason and "few_shot 1.500 <" in big.reason
    assert big.measured["user_adapter"] == pytest.approx(1.8)
    # The lowest loss is an adapter the counts do not support: the best supported rung wins.
    assert (small.by_counts, small.rung) == ("few_shot", "global_adapter")
    assert result.measured


def test_the_global_adapter_with_retrieval_is_a_choice_where_few_shot_is():
    train = _rows("some", "pros", 10) + _rows("two", "pros", 2)
    evaluation = _evaluation(
        {
            "global_adapter": {"some": 2.0, "two": 2.0},
            "few_shot": {"some": 2.2, "two": 2.2},
            "global_retrieval": {"some": 1.6, "two": 1.0},
        }
    )
    three = LadderThresholds(few_shot=3)
    some, two = plan(train, _rows("some", "pros", 1), thresholds=three, evaluation=evaluation).users
    assert (some.by_counts, some.rung) == ("few_shot", "global_retrieval")
    # Two examples under a few-shot threshold of 3: neither the global adapter with them.
    assert (two.by_counts, two.rung) == ("zero_shot", "global_adapter")


def test_plan_dataset_measures_with_registered_models(tmp_path):
    home = trained_home()
    store = Store(f"sqlite:///{home / 'tailor.db'}")
    try:
        registry = Registry(store, home=home)
        small = LadderThresholds(few_shot=3, segment_adapter=20, user_adapter=10)
        result = plan_dataset(home / "dataset", thresholds=small, registry=registry)
    finally:
        store.close()
    assert result.measured and "held-out loss" in result.note
    u1 = next(r for r in result.users if r.name == "u1")
    assert u1.by_counts == "user_adapter"
    assert {"zero_shot", "global_adapter", "few_shot", "user_adapter"} <= set(u1.measured)
    allowed = [r for r in u1.measured if r in [*u1.supported, "global_adapter"]]
    assert u1.measured[u1.rung] == min(u1.measured[r] for r in allowed)
    counts_only = plan_dataset(write_dataset(tmp_path / "d"), measure=False)
    assert not counts_only.measured and counts_only.note == "by example counts"
