"""A/B statistics: the classical parts against scipy, the sequential ones by simulation."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from scipy import integrate, stats

from tailorai.errors import ConfigError
from tailorai.rollout import (
    SequentialTest,
    prob_to_beat,
    sample_ratio_mismatch,
    two_proportions,
    welch,
    welch_from_samples,
)

LOOKS = np.arange(100, 5001, 100)  # peek every 100 units per arm, up to 5,000


def _cumulative_conversions(rate, runs, rng):
    return np.cumsum(rng.random((runs, LOOKS[-1])) < rate, axis=1)[:, LOOKS - 1]


def _peek(conversions_a, conversions_b):
    """Per run: (always-valid p after the last look, smallest fixed-horizon p at any look)."""
    always_valid, naive = [], []
    for row_a, row_b in zip(conversions_a, conversions_b, strict=True):
        test, smallest = SequentialTest(), 1.0
        for n, a, b in zip(LOOKS, row_a, row_b, strict=True):
            result = two_proportions(int(a), int(n), int(b), int(n))
            test.update(result)
            smallest = min(smallest, result.p_value)
        always_valid.append(test.p_value)
        naive.append(smallest)
    return np.array(always_valid), np.array(naive)


def _numbers(result):
    for value in dataclasses.astuple(result):
        yield from value if isinstance(value, tuple) else (value,)


# --- two proportions ------------------------------------------------------------------------


@pytest.mark.parametrize(("a", "n_a", "b", "n_b"), [(100, 1000, 130, 1000), (7, 40, 2, 55)])
def test_proportions_z_test_matches_scipy_chi_square(a, n_a, b, n_b):
    result = two_proportions(a, n_a, b, n_b)
    table = [[a, n_a - a], [b, n_b - b]]
    chi2 = stats.chi2_contingency(table, correction=False)
    assert result.z**2 == pytest.approx(chi2.statistic)
    assert result.p_value == pytest.approx(chi2.pvalue)
    assert result.difference == pytest.approx(b / n_b - a / n_a)
    assert math.copysign(1, result.z) == math.copysign(1, result.difference)


def test_proportions_interval_covers_the_difference_and_narrows_with_data():
    small = two_proportions(10, 100, 13, 100)
    large = two_proportions(1000, 10_000, 1300, 10_000)
    for result in (small, large):
        low, high = result.confidence_interval
        assert low < result.difference < high
        # Always valid costs width: the sequence is wider than the fixed-horizon interval.
        assert result.confidence_sequence[0] < low and high < result.confidence_sequence[1]
    assert np.diff(large.confidence_interval) < np.diff(small.confidence_interval) / 5
    assert large.confidence_interval[0] > 0


def test_always_valid_p_is_the_closed_form_of_the_mixture_likelihood_ratio():
    # Λ = ∫ N(θ̂; θ, V) / N(θ̂; 0, V) dN(θ; 0, τ²), integrated numerically for one look.
    result = two_proportions(200, 2000, 250, 2000, tau=0.02)
    pooled = 450 / 4000
    variance = pooled * (1 - pooled) * (2 / 2000)
    estimate = result.difference

    def integrand(theta):
        ratio = stats.norm.pdf(estimate, theta, math.sqrt(variance)) / stats.norm.pdf(
            estimate, 0, math.sqrt(variance)
        )
        return ratio * stats.norm.pdf(theta, 0, 0.02)

    mixture, _ = integrate.quad(integrand, -0.2, 0.2, points=[0.0, estimate])
    assert result.always_valid_p == pytest.approx(min(1.0, 1 / mixture), rel=1e-6)
    assert result.tau == 0.02


def test_always_valid_p_is_more_cautious_than_the_fixed_horizon_one():
    result = two_proportions(100, 1000, 135, 1000)
    assert result.p_value < 0.05 < result.always_valid_p


def test_peeking_at_an_aa_test_stays_within_alpha_only_with_always_valid_p():
    rng = np.random.default_rng(20_240_601)
    always_valid, naive = _peek(
        _cumulative_conversions(0.10, 200, rng), _cumulative_conversions(0.10, 200, rng)
    )
    # 200 runs: 5% is 10 runs, with a binomial sd of 3 runs, so 8% leaves 2 sd of room.
    assert np.mean(always_valid < 0.05) <= 0.08
    # Stopping at the first fixed-horizon p < 0.05 over 50 looks: false alarms several-fold.
    assert np.mean(naive < 0.05) >= 0.15


def test_a_real_lift_is_found_by_5000_per_arm_in_most_runs():
    rng = np.random.default_rng(7)
    always_valid, _ = _peek(
        _cumulative_conversions(0.10, 100, rng), _cumulative_conversions(0.13, 100, rng)
    )
    assert np.mean(always_valid < 0.05) >= 0.8


def test_the_confidence_sequence_covers_the_true_lift_at_every_look():
    rng = np.random.default_rng(11)
    conversions_a = _cumulative_conversions(0.10, 100, rng)
    conversions_b = _cumulative_conversions(0.13, 100, rng)
    misses = 0
    for row_a, row_b in zip(conversions_a, conversions_b, strict=True):
        test = SequentialTest()
        for n, a, b in zip(LOOKS, row_a, row_b, strict=True):
            test.update(two_proportions(int(a), int(n), int(b), int(n)))
        low, high = test.confidence_sequence
        misses += not low <= 0.03 <= high
    assert misses <= 8


@pytest.mark.parametrize(
    ("a", "n_a", "b", "n_b"),
    [(0, 0, 0, 0), (0, 0, 5, 10), (0, 10, 0, 10), (10, 10, 10, 10), (1, 1, 1, 1)],
)
def test_proportions_early_states_give_p_one_and_no_nan(a, n_a, b, n_b):
    result = two_proportions(a, n_a, b, n_b)
    assert result.insufficient_data
    assert result.p_value == result.always_valid_p == 1.0
    assert all(math.isfinite(x) for x in _numbers(result))
    assert -1 <= result.confidence_interval[0] <= result.confidence_interval[1] <= 1


def test_proportions_at_the_edges_still_give_a_finite_answer():
    result = two_proportions(0, 200, 200, 200)  # 0% against 100%: pooled rate is 50%
    assert not result.insufficient_data
    assert result.always_valid_p < 1e-6
    assert all(math.isfinite(x) for x in _numbers(result))
    assert result.confidence_interval[1] <= 1 and result.confidence_interval[0] > 0.9


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((-1, 10, 0, 10), "'successes_a' must be a non-negative whole number. Got -1"),
        ((0, 10, 0, -5), "'n_b' must be a non-negative whole number"),
        ((11, 10, 0, 10), "more successes than trials: successes_a=11, n_a=10"),
        ((2.5, 10, 0, 10), "whole number. Got 2.5"),
        ((float("nan"), 10, 0, 10), "whole number"),
    ],
)
def test_impossible_counts_raise_value_error(args, message):
    with pytest.raises(ValueError, match=message):
        two_proportions(*args)


def test_counts_from_numpy_are_accepted():
    result = two_proportions(np.int64(10), np.int64(100), 12.0, 100.0)
    assert (result.n_a, result.n_b) == (100, 100) and isinstance(result.n_a, int)


def test_default_tau_is_a_tenth_of_a_pooled_standard_deviation():
    result = two_proportions(100, 1000, 140, 1000)
    pooled = 240 / 2000
    assert result.tau == pytest.approx(0.1 * math.sqrt(pooled * (1 - pooled)))
    means = welch(1.0, 4.0, 100, 1.5, 9.0, 100)
    assert means.tau == pytest.approx(0.1 * math.sqrt((4.0 + 9.0) / 2))


def test_welch_does_not_depend_on_the_unit_of_the_reward():
    rng = np.random.default_rng(2)
    rewards_a, rewards_b = rng.normal(1.0, 1.0, 300), rng.normal(1.25, 1.0, 300)
    in_dollars = welch_from_samples(rewards_a, rewards_b)
    in_cents = welch_from_samples(rewards_a * 100, rewards_b * 100)
    assert in_cents.always_valid_p == pytest.approx(in_dollars.always_valid_p)
    assert in_cents.p_value == pytest.approx(in_dollars.p_value)
    assert in_cents.confidence_sequence == pytest.approx(
        tuple(100 * x for x in in_dollars.confidence_sequence)
    )


@pytest.mark.parametrize("tau", [0, -0.1, float("inf")])
def test_tau_must_be_positive(tau):
    with pytest.raises(ValueError, match="'tau'"):
        two_proportions(1, 10, 2, 10, tau=tau)


# --- sequential test ------------------------------------------------------------------------


def test_sequential_p_never_rises_even_when_a_look_says_less():
    test = SequentialTest()
    strong = two_proportions(100, 1000, 160, 1000)
    weaker = two_proportions(200, 2000, 250, 2000)
    assert weaker.always_valid_p > strong.always_valid_p
    assert test.update(strong) == strong.always_valid_p
    assert test.update(weaker) == strong.always_valid_p
    assert test.looks == 2 and test.latest is weaker
    low, high = test.confidence_sequence
    assert low == max(strong.confidence_sequence[0], weaker.confidence_sequence[0])
    assert high == min(strong.confidence_sequence[1], weaker.confidence_sequence[1])


def test_sequential_test_rejects_looks_out_of_order_or_mixed():
    test = SequentialTest()
    test.update(two_proportions(20, 200, 25, 200))
    with pytest.raises(ValueError, match="never shrink"):
        test.update(two_proportions(10, 100, 12, 100))
    with pytest.raises(ValueError, match="same metric"):
        test.update(welch(1.0, 1.0, 300, 1.1, 1.0, 300))
    with pytest.raises(ValueError, match="same confidence"):
        test.update(two_proportions(30, 300, 40, 300, confidence=0.9))
    with pytest.raises(TypeError, match="two_proportions\\(\\) or welch\\(\\)"):
        test.update(0.03)


# --- Welch ----------------------------------------------------------------------------------


def test_welch_matches_scipy():
    rng = np.random.default_rng(3)
    rewards_a = rng.exponential(1.0, 80)
    rewards_b = rng.exponential(1.4, 120)
    result = welch_from_samples(rewards_a, rewards_b)
    reference = stats.ttest_ind(rewards_b, rewards_a, equal_var=False)
    assert result.t == pytest.approx(reference.statistic)
    assert result.p_value == pytest.approx(reference.pvalue)
    assert result.df == pytest.approx(reference.df)
    interval = reference.confidence_interval(0.95)
    assert result.confidence_interval == pytest.approx((interval.low, interval.high))
    from_moments = welch(
        rewards_a.mean(), rewards_a.var(ddof=1), 80, rewards_b.mean(), rewards_b.var(ddof=1), 120
    )
    assert from_moments == result


def test_welch_confidence_sequence_ends_where_the_sequential_test_reaches_alpha():
    result = welch(0.0, 4.0, 400, 0.5, 4.0, 400, tau=0.3)
    high = result.confidence_sequence[1]
    # Testing "the effect is `high`" is testing a zero effect on data shifted by `high`.
    shifted = welch(0.0, 4.0, 400, 0.5 - high, 4.0, 400, tau=0.3)
    assert shifted.always_valid_p == pytest.approx(0.05, rel=1e-9)


def test_peeking_at_an_aa_test_of_mean_rewards_stays_within_alpha():
    rng = np.random.default_rng(5)
    runs = 200
    samples = rng.exponential(2.0, (2, runs, LOOKS[-1]))  # skewed, like revenue per user
    sums = np.cumsum(samples, axis=2)[:, :, LOOKS - 1]
    squares = np.cumsum(samples**2, axis=2)[:, :, LOOKS - 1]
    means = sums / LOOKS
    variances = (squares - sums**2 / LOOKS) / (LOOKS - 1)
    false_alarms = naive_alarms = 0
    for run in range(runs):
        test, smallest = SequentialTest(), 1.0
        for j, n in enumerate(LOOKS):
            result = welch(
                means[0, run, j], variances[0, run, j], n, means[1, run, j], variances[1, run, j], n
            )
            test.update(result)
            smallest = min(smallest, result.p_value)
        false_alarms += test.p_value < 0.05
        naive_alarms += smallest < 0.05
    assert false_alarms / runs <= 0.08
    assert naive_alarms / runs >= 0.15


@pytest.mark.parametrize(
    ("rewards_a", "rewards_b"),
    [([], []), ([1.0], [2.0, 3.0]), ([1.0, 1.0, 1.0], [1.0, 1.0]), ([0.0, 0.0], [1.0, 1.0])],
)
def test_welch_early_states_give_p_one_and_no_nan(rewards_a, rewards_b):
    result = welch_from_samples(rewards_a, rewards_b)
    assert result.insufficient_data
    assert result.p_value == result.always_valid_p == 1.0
    assert not any(math.isnan(x) for x in _numbers(result))
    assert result.confidence_interval == (-math.inf, math.inf)


def test_welch_with_one_constant_arm_still_tests():
    result = welch_from_samples([1.0] * 50, np.linspace(0, 4, 50))
    assert not result.insufficient_data and result.p_value < 0.01


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((0.0, -1.0, 10, 0.0, 1.0, 10), "'var_a' is a variance and cannot be negative"),
        ((float("nan"), 1.0, 10, 0.0, 1.0, 10), "'mean_a' must be a finite number"),
        ((0.0, 1.0, 10, 0.0, 1.0, -3), "'n_b' must be a non-negative whole number"),
    ],
)
def test_welch_rejects_impossible_inputs(args, message):
    with pytest.raises(ValueError, match=message):
        welch(*args)


def test_welch_from_samples_rejects_nan():
    with pytest.raises(ValueError, match="NaN or infinite"):
        welch_from_samples([1.0, float("nan")], [1.0, 2.0])


# --- probability to beat --------------------------------------------------------------------


def test_prob_to_beat_is_a_coin_flip_for_equal_data_and_near_one_for_a_clear_win():
    assert prob_to_beat(100, 1000, 100, 1000).prob_b_beats_a == pytest.approx(0.5, abs=0.01)
    win = prob_to_beat(100, 1000, 150, 1000)
    assert win.prob_b_beats_a > 0.99
    assert win.expected_loss_b < 1e-4  # shipping B risks almost nothing
    assert win.expected_loss_a == pytest.approx(0.05, abs=0.003)  # keeping A loses ~5 points
    assert prob_to_beat(150, 1000, 100, 1000).prob_b_beats_a < 0.01


def test_prob_to_beat_matches_the_exact_integral():
    result = prob_to_beat(30, 200, 40, 210)
    posterior_a = stats.beta(31, 171)
    posterior_b = stats.beta(41, 171)
    exact, _ = integrate.quad(lambda x: posterior_b.pdf(x) * posterior_a.cdf(x), 0, 1)
    assert result.prob_b_beats_a == pytest.approx(exact, abs=0.005)  # 100k draws: sd ≈ 0.0015
    assert result.posterior_a == (31.0, 171.0) and result.posterior_b == (41.0, 171.0)


def test_prob_to_beat_is_reproducible_and_sane_without_data():
    assert prob_to_beat(3, 10, 5, 10, seed=1) == prob_to_beat(3, 10, 5, 10, seed=1)
    empty = prob_to_beat(0, 0, 0, 0)
    assert empty.insufficient_data and empty.prob_b_beats_a == pytest.approx(0.5, abs=0.01)


@pytest.mark.parametrize("prior", [(0, 1), (1,), (1, float("nan")), (True, 1)])
def test_prob_to_beat_rejects_bad_priors(prior):
    with pytest.raises(ValueError, match="'prior' must be two positive numbers"):
        prob_to_beat(1, 10, 2, 10, prior=prior)


def test_prob_to_beat_rejects_impossible_counts():
    with pytest.raises(ValueError, match="more successes than trials"):
        prob_to_beat(1, 10, 12, 10)


# --- sample ratio mismatch ------------------------------------------------------------------

HALF = {"control": 1, "treatment": 1}


@pytest.mark.parametrize(
    ("control", "treatment", "alert"),
    [(5300, 4700, True), (5200, 4800, True), (5030, 4970, False), (5100, 4900, False)],
)
def test_srm_flags_a_broken_50_50_split(control, treatment, alert):
    result = sample_ratio_mismatch({"control": control, "treatment": treatment}, HALF)
    reference = stats.chisquare([control, treatment])
    assert result.p_value == pytest.approx(reference.pvalue)
    assert result.alert is alert and not result.insufficient_data
    assert result.expected == {"control": 5000.0, "treatment": 5000.0}


def test_srm_follows_unequal_designs_and_its_threshold():
    design = {"a": 2, "b": 1}
    assert not sample_ratio_mismatch({"a": 6700, "b": 3300}, design).alert
    assert sample_ratio_mismatch({"a": 5000, "b": 5000}, design).alert
    near = sample_ratio_mismatch({"control": 5100, "treatment": 4900}, HALF, threshold=0.05)
    assert near.alert  # p ≈ 0.046


def test_srm_counts_an_arm_that_got_nobody_as_zero():
    result = sample_ratio_mismatch({"control": 1000}, HALF)
    assert result.observed == {"control": 1000, "treatment": 0} and result.alert


def test_srm_waits_for_enough_units():
    result = sample_ratio_mismatch({"control": 4, "treatment": 0}, HALF)
    assert result.insufficient_data and not result.alert and result.p_value == 1.0
    assert sample_ratio_mismatch({}, HALF).insufficient_data


def test_srm_rejects_unknown_arms_bad_counts_and_bad_weights():
    with pytest.raises(ValueError, match="arms the design does not: \\['other'\\]"):
        sample_ratio_mismatch({"control": 1, "other": 1}, HALF)
    with pytest.raises(ValueError, match="non-negative whole number"):
        sample_ratio_mismatch({"control": -1, "treatment": 1}, HALF)
    with pytest.raises(ConfigError, match="at least two arms"):
        sample_ratio_mismatch({"control": 1}, {"control": 1})
    with pytest.raises(ValueError, match="'threshold'"):
        sample_ratio_mismatch({"control": 1, "treatment": 1}, HALF, threshold=0)
