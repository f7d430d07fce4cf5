"""Sticky assignment: the same arm for the same user everywhere, fair shares, safe ramps."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from itertools import pairwise

import numpy as np
import pytest

from tailorai.errors import ConfigError
from tailorai.rollout import BUCKETS, assign, bucket

USERS = [f"user-{i}" for i in range(20_000)]
HALF = {"control": 1, "treatment": 1}


def test_buckets_are_a_fixed_function_of_salt_and_unit():
    # Hard-coded: any change to the hash would silently move every running experiment's users.
    assert bucket("exp-1", "user-1") == 6764
    assert bucket("exp-1", "user-2") == 4302
    assert bucket("exp-1", "alice") == 4601
    assert all(0 <= bucket("exp-1", user) < BUCKETS for user in USERS[:1000])


def test_assignment_is_the_same_in_another_process_whatever_its_hash_seed():
    code = (
        "from tailorai.rollout import assign, bucket;"
        "print(bucket('exp-1', 'user-1'), assign('exp-1', 'user-1', {'a': 1, 'b': 1}))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert out.stdout.split() == ["6764", assign("exp-1", "user-1", {"a": 1, "b": 1})]


def test_repeated_calls_give_the_same_arm():
    first = [assign("exp-1", user, HALF) for user in USERS[:500]]
    assert [assign("exp-1", user, HALF) for user in USERS[:500]] == first


@pytest.mark.parametrize(
    "weights",
    [HALF, {"a": 0.5, "b": 0.3, "c": 0.2}, {"control": 9, "treatment": 1}],
)
def test_arm_shares_follow_the_weights(weights):
    counts = Counter(assign("exp-shares", user, weights) for user in USERS)
    total = sum(weights.values())
    for arm, weight in weights.items():
        # 4 standard deviations of a share over 20k users is at most 0.014.
        assert counts[arm] / len(USERS) == pytest.approx(weight / total, abs=0.015)
    assert None not in counts


def test_arm_order_in_the_mapping_does_not_matter():
    forward = {"a": 2, "b": 1, "c": 1}
    backward = {"c": 1, "b": 1, "a": 2}
    assert all(assign("exp-1", u, forward) == assign("exp-1", u, backward) for u in USERS[:2000])


def test_users_keep_their_arm_as_traffic_ramps_up():
    ramp = [0.05, 0.25, 0.5, 1.0]
    steps = [{u: assign("exp-ramp", u, HALF, traffic=t) for u in USERS} for t in ramp]
    for traffic, arms in zip(ramp, steps, strict=True):
        inside = sum(arm is not None for arm in arms.values()) / len(USERS)
        assert inside == pytest.approx(traffic, abs=0.012)
    for before, after in pairwise(steps):
        kept = {u: arm for u, arm in before.items() if arm is not None}
        assert kept, "nobody was in the experiment"
        assert all(after[u] == arm for u, arm in kept.items())


def test_the_arms_of_a_small_ramp_step_are_split_by_weight_too():
    arms = [assign("exp-ramp", u, HALF, traffic=0.1) for u in USERS]
    inside = Counter(arm for arm in arms if arm is not None)
    # ~2,000 users: the split among them must not depend on having passed the gate.
    assert inside["treatment"] / sum(inside.values()) == pytest.approx(0.5, abs=0.045)


def test_zero_traffic_lets_nobody_in_and_full_traffic_everybody():
    assert all(assign("exp-1", u, HALF, traffic=0) is None for u in USERS[:1000])
    assert all(assign("exp-1", u, HALF, traffic=1) is not None for u in USERS[:1000])


def test_different_salts_split_users_independently():
    first = np.array([assign("exp-one", u, HALF) == "treatment" for u in USERS])
    second = np.array([assign("exp-two", u, HALF) == "treatment" for u in USERS])
    for a in (True, False):
        for b in (True, False):
            cell = np.mean((first == a) & (second == b))
            assert cell == pytest.approx(0.25, abs=0.015)
    gate = np.array([bucket("exp-one", u) < BUCKETS // 2 for u in USERS])
    assert np.mean(gate & first) == pytest.approx(0.25, abs=0.015)


@pytest.mark.parametrize(
    ("arms", "message"),
    [
        ({"control": 1}, "at least two arms"),
        ({}, "at least two arms"),
        ({"control": 1, "treatment": 0}, "'treatment' must be a positive finite number"),
        ({"control": 1, "treatment": -1}, "Got -1 instead"),
        ({"control": 1, "treatment": float("nan")}, "positive finite"),
        ({"control": 1, "treatment": float("inf")}, "positive finite"),
        ({"control": 1, "treatment": "1"}, "positive finite"),
        ({"control": 1, "": 1}, "non-empty strings"),
        ([("control", 1), ("treatment", 1)], "must be a mapping"),
    ],
)
def test_bad_arms_are_a_config_error_that_names_the_problem(arms, message):
    with pytest.raises(ConfigError, match=message):
        assign("exp-1", "user-1", arms)


@pytest.mark.parametrize("traffic", [-0.1, 1.5, float("nan"), True, "0.5"])
def test_traffic_outside_zero_to_one_is_a_config_error(traffic):
    with pytest.raises(ConfigError, match="'traffic' share must be a number in \\[0, 1\\]"):
        assign("exp-1", "user-1", HALF, traffic=traffic)


def test_bad_salt_and_unit_are_rejected():
    with pytest.raises(ConfigError, match="salt"):
        bucket("", "user-1")
    with pytest.raises(ConfigError, match="NUL"):
        bucket("exp\0x", "user-1")
    with pytest.raises(ValueError, match="non-empty string id"):
        assign("exp-1", "", HALF)
    with pytest.raises(ValueError, match="non-empty string id"):
        assign("exp-1", 42, HALF)
