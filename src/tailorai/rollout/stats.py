"""Statistics for A/B tests: fixed-horizon tests, always-valid sequential tests, Bayes, SRM.

Every function is pure, takes summary counts (or moments) per arm and returns a small frozen
dataclass. Effects are always B minus A. Legitimate early states (an empty arm, no variation
yet) return p = 1 with `insufficient_data=True`; impossible inputs (negative counts, more
successes than trials) raise ValueError, invalid arm weights raise ConfigError.

**Always-valid p-values (mSPRT).** A fixed-horizon p-value is only valid at the one sample size
planned in advance; looking at it after every batch and stopping at the first p < 0.05 inflates
false positives several-fold. The mixture sequential probability ratio test of Johari, Pekelis
and Walsh, "Always Valid Inference: Continuous Monitoring of A/B Tests", Operations Research
70(3), 2022 (arXiv:1512.04922), gives a p-value that may be watched continuously. With θ̂ the
estimated effect, V its variance (normal approximation) and a normal mixing distribution
N(0, τ²) over the effect under the alternative:

    Λ_n = sqrt(V / (V + τ²)) · exp(θ̂² τ² / (2 V (V + τ²)))
    p_n = min(1, 1 / Λ_n),   and the reported p*_n = min(p_1, ..., p_n)

p*_n must be the running minimum over all looks so far, which `SequentialTest` keeps. Then
P(p*_n ≤ α for some n) ≤ α under no effect, however often one looks. Inverting the same
test at every θ0 gives the (1 − α) confidence sequence, valid at all looks at once and
intersected over looks by `SequentialTest`:

    θ̂ ± sqrt(V (V + τ²) / τ² · (2 ln(1/α) + ln((V + τ²) / V)))

τ is the scale of effects the test is tuned to find: a small τ finds small effects late, a large
one large effects early; a wrong guess costs power, never validity. `tau=None` takes
τ = `DEFAULT_EFFECT_SIZE` (0.1) pooled standard deviations, which makes the test depend only
on the standardized statistic and the sample sizes: a mixture over Cohen's d with sd 0.1 (about
3 points of conversion on a 10% base rate). Validity rests on the normal approximation with
plugged-in variances, so it is asymptotic: sound from a few dozen observations per arm.

**Two proportions.** r = successes / n per arm. The test works under H0 with the pooled rate
p = (s_a + s_b) / (n_a + n_b): V = p (1 − p) (1/n_a + 1/n_b), z = (r_b − r_a) / sqrt(V); its
two-sided p-value equals the χ² test of the 2×2 table without continuity correction. Intervals
use the Agresti-Caffo adjustment (one success and one failure added to each arm), which keeps
their width honest at 0% or 100% conversion: r̃ = (s + 1) / (n + 2),
V = Σ r̃ (1 − r̃) / (n + 2), centred on r̃_b − r̃_a and clipped to [-1, 1]. The confidence sequence
uses the same centre and V, so near its edge it can disagree by a hair with the always-valid
p-value, which uses the pooled V of the test.

**Welch.** For mean rewards with sample variances s² (ddof 1): V = s_a²/n_a + s_b²/n_b,
t = (m_b − m_a) / sqrt(V), Welch-Satterthwaite degrees of freedom
df = V² / ((s_a²/n_a)² / (n_a − 1) + (s_b²/n_b)² / (n_b − 1)); the mSPRT uses the same V.

**Probability to beat.** With Beta(α0, β0) priors the posterior of each rate is
Beta(α0 + s, β0 + n − s); P(r_b > r_a) and the expected losses E[max(r_a − r_b, 0)] (of
shipping B) and E[max(r_b − r_a, 0)] (of keeping A) are Monte Carlo means over seeded draws.

**Sample ratio mismatch.** A χ² goodness-of-fit test of the observed units per arm against
the design's weights; p below `SRM_THRESHOLD` (0.001) means the split is broken (assignment,
logging or redirect bugs) and the experiment's results should not be trusted.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from numbers import Real
from statistics import NormalDist

import numpy as np

from tailorai.rollout._weights import normalize_weights

__all__ = [
    "DEFAULT_EFFECT_SIZE",
    "SRM_THRESHOLD",
    "ProbToBeatResult",
    "ProportionsResult",
    "SRMResult",
    "SequentialTest",
    "WelchResult",
    "prob_to_beat",
    "sample_ratio_mismatch",
    "two_proportions",
    "welch",
    "welch_from_samples",
]

DEFAULT_EFFECT_SIZE = 0.1  # τ in pooled standard deviations when tau=None
SRM_THRESHOLD = 0.001
_MIN_EXPECTED = 5.0  # below this expected count per arm the χ² approximation is not trusted
_NORMAL = NormalDist()


@dataclass(frozen=True, slots=True)
class ProportionsResult:
    """Two conversion rates compared; `difference` and intervals are B minus A."""

    n_a: int
    n_b: int
    rate_a: float
    rate_b: float
    difference: float
    confidence: float
    confidence_interval: tuple[float, float]  # fixed horizon, Agresti-Caffo
    z: float
    p_value: float  # fixed horizon, two-sided: valid only at a sample size planned in advance
    always_valid_p: float  # mSPRT at this look; `SequentialTest` keeps the running minimum
    confidence_sequence: tuple[float, float]  # always valid at this look
    tau: float
    insufficient_data: bool  # an arm is empty, or no arm has variation yet


@dataclass(frozen=True, slots=True)
class WelchResult:
    """Two mean rewards compared; `difference` and intervals are B minus A."""

    n_a: int
    n_b: int
    mean_a: float
    mean_b: float
    difference: float
    confidence: float
    confidence_interval: tuple[float, float]  # fixed horizon, Welch t
    t: float
    df: float
    p_value: float  # fixed horizon, two-sided: valid only at a sample size planned in advance
    always_valid_p: float
    confidence_sequence: tuple[float, float]
    tau: float
    insufficient_data: bool  # an arm has fewer than 2 values, or both have zero variance


@dataclass(frozen=True, slots=True)
class ProbToBeatResult:
    """Bayesian comparison of two conversion rates under Beta posteriors."""

    prob_b_beats_a: float
    expected_loss_a: float  # conversion given up, on average, by keeping A
    expected_loss_b: float  # conversion given up, on average, by shipping B
    posterior_a: tuple[float, float]  # Beta(alpha, beta)
    posterior_b: tuple[float, float]
    draws: int
    insufficient_data: bool  # an arm is empty: its posterior is the prior


@dataclass(frozen=True, slots=True)
class SRMResult:
    """Chi-square goodness of fit of the units per arm against the designed split."""

    observed: dict[str, int]
    expected: dict[str, float]
    statistic: float
    p_value: float
    threshold: float
    alert: bool  # p_value < threshold: the split is broken, do not trust the results
    insufficient_data: bool  # some arm expects fewer than 5 units: no verdict yet


class SequentialTest:
    """The always-valid p-value and confidence sequence of one experiment, across looks.

    Feed it the result of each look, in order; it keeps the running minimum p-value and the
    intersection of the confidence sequences, which is what makes peeking safe::

        test = SequentialTest()
        for successes_a, n_a, successes_b, n_b in looks:
            if test.update(two_proportions(successes_a, n_a, successes_b, n_b)) < 0.05:
                break  # stop: B differs from A, at any look, with at most 5% false alarms
    """

    def __init__(self) -> None:
        self.p_value = 1.0
        self.confidence_sequence = (-math.inf, math.inf)
        self.looks = 0
        self.latest: ProportionsResult | WelchResult | None = None

    def update(self, result: ProportionsResult | WelchResult) -> float:
        """Fold in one look and return the always-valid p-value so far."""
        if not isinstance(result, ProportionsResult | WelchResult):
            raise TypeError(
                "SequentialTest.update takes the result of two_proportions() or welch()."
                f" Got {type(result).__name__} instead."
            )
        previous = self.latest
        if previous is not None:
            if type(result) is not type(previous):
                raise ValueError(
                    f"All looks of a SequentialTest must compare the same metric; this one had"
                    f" {type(previous).__name__} and now got {type(result).__name__}."
                    " Use one SequentialTest per metric."
                )
            if result.confidence != previous.confidence:
                raise ValueError(
                    f"All looks must use the same confidence level; this test had"
                    f" {previous.confidence} and now got {result.confidence}."
                )
            if result.n_a < previous.n_a or result.n_b < previous.n_b:
                raise ValueError(
                    "Looks must come in order, with sample sizes that never shrink; got"
                    f" n_a={result.n_a}, n_b={result.n_b} after n_a={previous.n_a},"
                    f" n_b={previous.n_b}. Pass cumulative counts since the experiment started."
                )
        self.p_value = min(self.p_value, result.always_valid_p)
        low = max(self.confidence_sequence[0], result.confidence_sequence[0])
        high = min(self.confidence_sequence[1], result.confidence_sequence[1])
        if low <= high:  # empty only by a rare miss (at most 1 - confidence): keep the last
            self.confidence_sequence = (low, high)
        self.looks += 1
        self.latest = result
        return self.p_value


def two_proportions(
    successes_a: int,
    n_a: int,
    successes_b: int,
    n_b: int,
    *,
    tau: float | None = None,
    confidence: float = 0.95,
) -> ProportionsResult:
    """Compare conversion rates: z-test, interval, and the always-valid mSPRT p-value.

    >>> two_proportions(500, 5000, 650, 5000).always_valid_p < 0.05
    True
    """
    successes_a, n_a = _successes_and_trials("a", successes_a, n_a)
    successes_b, n_b = _successes_and_trials("b", successes_b, n_b)
    confidence = _confidence(confidence)
    rate_a = successes_a / n_a if n_a else 0.0
    rate_b = successes_b / n_b if n_b else 0.0
    difference = rate_b - rate_a
    total = n_a + n_b
    pooled = (successes_a + successes_b) / total if total else 0.0
    tau = _tau(tau, math.sqrt(pooled * (1.0 - pooled)))

    insufficient = n_a == 0 or n_b == 0 or pooled in (0.0, 1.0)
    if insufficient:
        z, p_value, always_valid_p = 0.0, 1.0, 1.0
    else:
        variance = pooled * (1.0 - pooled) * (1.0 / n_a + 1.0 / n_b)
        z = difference / math.sqrt(variance)
        p_value = math.erfc(abs(z) / math.sqrt(2.0))
        always_valid_p = _msprt_p(difference, variance, tau)

    if n_a == 0 or n_b == 0:
        interval = sequence = (-1.0, 1.0)
    else:
        adjusted_a = (successes_a + 1) / (n_a + 2)
        adjusted_b = (successes_b + 1) / (n_b + 2)
        centre = adjusted_b - adjusted_a
        variance = adjusted_a * (1 - adjusted_a) / (n_a + 2) + adjusted_b * (1 - adjusted_b) / (
            n_b + 2
        )
        half = _NORMAL.inv_cdf(0.5 + confidence / 2) * math.sqrt(variance)
        interval = _clip(centre - half, centre + half)
        half = _sequence_half_width(variance, tau, 1.0 - confidence)
        sequence = _clip(centre - half, centre + half)
    return ProportionsResult(
        n_a=n_a,
        n_b=n_b,
        rate_a=rate_a,
        rate_b=rate_b,
        difference=difference,
        confidence=confidence,
        confidence_interval=interval,
        z=z,
        p_value=p_value,
        always_valid_p=always_valid_p,
        confidence_sequence=sequence,
        tau=tau,
        insufficient_data=insufficient,
    )


def welch(
    mean_a: float,
    var_a: float,
    n_a: int,
    mean_b: float,
    var_b: float,
    n_b: int,
    *,
    tau: float | None = None,
    confidence: float = 0.95,
) -> WelchResult:
    """Compare mean rewards from per-arm mean, sample variance (ddof=1) and count.

    Returns Welch's fixed-horizon t-test beside the always-valid mSPRT p-value.
    """
    n_a, n_b = _count("n_a", n_a), _count("n_b", n_b)
    mean_a, mean_b = _finite("mean_a", mean_a), _finite("mean_b", mean_b)
    var_a, var_b = _finite("var_a", var_a), _finite("var_b", var_b)
    for name, value in (("var_a", var_a), ("var_b", var_b)):
        if value < 0:
            raise ValueError(f"'{name}' is a variance and cannot be negative. Got {value}.")
    confidence = _confidence(confidence)
    difference = mean_b - mean_a
    tau = _tau(tau, math.sqrt((var_a + var_b) / 2.0))
    share_a = var_a / n_a if n_a else 0.0
    share_b = var_b / n_b if n_b else 0.0
    variance = share_a + share_b

    if n_a < 2 or n_b < 2 or variance == 0.0:
        unbounded = (-math.inf, math.inf)
        return WelchResult(
            n_a=n_a,
            n_b=n_b,
            mean_a=mean_a,
            mean_b=mean_b,
            difference=difference,
            confidence=confidence,
            confidence_interval=unbounded,
            t=0.0,
            df=0.0,
            p_value=1.0,
            always_valid_p=1.0,
            confidence_sequence=unbounded,
            tau=tau,
            insufficient_data=True,
        )
    from scipy import stats as scipy_stats  # imported on use: `import tailorai.rollout` stays light

    df = variance**2 / (share_a**2 / (n_a - 1) + share_b**2 / (n_b - 1))
    sd = math.sqrt(variance)
    t = difference / sd
    half = float(scipy_stats.t.ppf(0.5 + confidence / 2, df)) * sd
    sequence_half = _sequence_half_width(variance, tau, 1.0 - confidence)
    return WelchResult(
        n_a=n_a,
        n_b=n_b,
        mean_a=mean_a,
        mean_b=mean_b,
        difference=difference,
        confidence=confidence,
        confidence_interval=(difference - half, difference + half),
        t=t,
        df=df,
        p_value=float(min(1.0, 2.0 * scipy_stats.t.sf(abs(t), df))),
        always_valid_p=_msprt_p(difference, variance, tau),
        confidence_sequence=(difference - sequence_half, difference + sequence_half),
        tau=tau,
        insufficient_data=False,
    )


def welch_from_samples(
    rewards_a: Sequence[float] | np.ndarray,
    rewards_b: Sequence[float] | np.ndarray,
    *,
    tau: float | None = None,
    confidence: float = 0.95,
) -> WelchResult:
    """`welch` on the raw rewards of each arm (one number per unit)."""
    moments = []
    for name, rewards in (("rewards_a", rewards_a), ("rewards_b", rewards_b)):
        values = np.asarray(rewards, dtype=float)
        if values.ndim != 1:
            raise ValueError(f"'{name}' must be a flat sequence of numbers. Got {values.ndim}-D.")
        if not np.isfinite(values).all():
            raise ValueError(f"'{name}' holds NaN or infinite values; drop or fix them first.")
        n = values.size
        mean = float(values.mean()) if n else 0.0
        variance = float(values.var(ddof=1)) if n >= 2 else 0.0
        moments.append((mean, variance, n))
    (mean_a, var_a, n_a), (mean_b, var_b, n_b) = moments
    return welch(mean_a, var_a, n_a, mean_b, var_b, n_b, tau=tau, confidence=confidence)


def prob_to_beat(
    successes_a: int,
    n_a: int,
    successes_b: int,
    n_b: int,
    *,
    prior: tuple[float, float] = (1.0, 1.0),
    draws: int = 100_000,
    seed: int | None = 0,
) -> ProbToBeatResult:
    """Posterior probability that B's rate beats A's, and the expected loss of each choice.

    The default uniform prior Beta(1, 1) and fixed seed make the answer reproducible.
    """
    successes_a, n_a = _successes_and_trials("a", successes_a, n_a)
    successes_b, n_b = _successes_and_trials("b", successes_b, n_b)
    if (
        len(prior) != 2
        or not all(isinstance(x, Real) and math.isfinite(x) and x > 0 for x in prior)
        or any(isinstance(x, bool) for x in prior)
    ):
        raise ValueError(
            f"'prior' must be two positive numbers (alpha, beta) of a Beta prior, e.g. (1, 1)."
            f" Got {prior!r} instead."
        )
    draws = _count("draws", draws)
    if draws < 1:
        raise ValueError("'draws' must be at least 1 (100,000 gives about ±0.003). Got 0.")
    alpha, beta = float(prior[0]), float(prior[1])
    posterior_a = (alpha + successes_a, beta + n_a - successes_a)
    posterior_b = (alpha + successes_b, beta + n_b - successes_b)
    rng = np.random.default_rng(seed)
    rate_a = rng.beta(*posterior_a, size=draws)
    rate_b = rng.beta(*posterior_b, size=draws)
    gain = rate_b - rate_a
    return ProbToBeatResult(
        prob_b_beats_a=float(np.mean(gain > 0)),
        expected_loss_a=float(np.mean(np.maximum(gain, 0.0))),
        expected_loss_b=float(np.mean(np.maximum(-gain, 0.0))),
        posterior_a=posterior_a,
        posterior_b=posterior_b,
        draws=draws,
        insufficient_data=n_a == 0 or n_b == 0,
    )


def sample_ratio_mismatch(
    counts: Mapping[str, int],
    weights: Mapping[str, float],
    *,
    threshold: float = SRM_THRESHOLD,
) -> SRMResult:
    """Check the units per arm against the designed weights (χ² goodness of fit).

    An arm of `weights` missing from `counts` counts as 0 units, itself a strong sign of a
    broken split.

    >>> design = {"control": 1, "treatment": 1}
    >>> sample_ratio_mismatch({"control": 5300, "treatment": 4700}, design).alert
    True
    """
    shares = normalize_weights(weights)
    if not isinstance(counts, Mapping):
        raise ValueError(
            f"'counts' must map arm name to units seen. Got {type(counts).__name__} instead."
        )
    unknown = sorted(map(str, set(counts) - set(shares)))
    if unknown:
        raise ValueError(
            f"'counts' has arms the design does not: {unknown}; the design has {list(shares)}."
        )
    if isinstance(threshold, bool) or not isinstance(threshold, Real) or not 0 < threshold < 1:
        raise ValueError(f"'threshold' must be a p-value in (0, 1). Got {threshold!r} instead.")
    observed = {arm: _count(f"counts[{arm!r}]", counts.get(arm, 0)) for arm in shares}
    total = sum(observed.values())
    expected = {arm: total * share for arm, share in shares.items()}
    if min(expected.values()) < _MIN_EXPECTED:
        statistic, p_value, insufficient = 0.0, 1.0, True
    else:
        from scipy import stats as scipy_stats

        test = scipy_stats.chisquare(list(observed.values()), list(expected.values()))
        statistic, p_value, insufficient = float(test.statistic), float(test.pvalue), False
    return SRMResult(
        observed=observed,
        expected=expected,
        statistic=statistic,
        p_value=p_value,
        threshold=float(threshold),
        alert=p_value < threshold,
        insufficient_data=insufficient,
    )


def _msprt_p(difference: float, variance: float, tau: float) -> float:
    """min(1, 1/Λ) for the normal mixture SPRT, computed in logs so it never overflows."""
    if variance <= 0.0 or tau <= 0.0:
        return 1.0
    spread = variance + tau * tau
    log_lambda = 0.5 * math.log(variance / spread) + (
        difference * difference * tau * tau / (2.0 * variance * spread)
    )
    return 1.0 if log_lambda <= 0.0 else math.exp(-log_lambda)


def _sequence_half_width(variance: float, tau: float, alpha: float) -> float:
    if variance <= 0.0 or tau <= 0.0:
        return math.inf
    spread = variance + tau * tau
    return math.sqrt(
        variance
        * spread
        / (tau * tau)
        * (2.0 * math.log(1.0 / alpha) + math.log(spread / variance))
    )


def _clip(low: float, high: float) -> tuple[float, float]:
    return max(-1.0, low), min(1.0, high)


def _tau(tau: float | None, pooled_sd: float) -> float:
    if tau is None:
        return DEFAULT_EFFECT_SIZE * pooled_sd
    if isinstance(tau, bool) or not isinstance(tau, Real) or not math.isfinite(tau) or tau <= 0:
        raise ValueError(
            "'tau' is the scale of the effect the sequential test looks for and must be a"
            f" positive number in the metric's units (or None). Got {tau!r} instead."
        )
    return float(tau)


def _confidence(confidence: float) -> float:
    if isinstance(confidence, bool) or not isinstance(confidence, Real) or not 0 < confidence < 1:
        raise ValueError(f"'confidence' must be in (0, 1), e.g. 0.95. Got {confidence!r} instead.")
    return float(confidence)


def _count(name: str, value: int) -> int:
    if (
        isinstance(value, bool)
        or not isinstance(value, Real)
        or not math.isfinite(value)
        or value != int(value)
        or value < 0
    ):
        raise ValueError(f"'{name}' must be a non-negative whole number. Got {value!r} instead.")
    return int(value)


def _finite(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
        raise ValueError(f"'{name}' must be a finite number. Got {value!r} instead.")
    return float(value)


def _successes_and_trials(arm: str, successes: int, n: int) -> tuple[int, int]:
    successes, n = _count(f"successes_{arm}", successes), _count(f"n_{arm}", n)
    if successes > n:
        raise ValueError(
            f"Arm {arm.upper()} has more successes than trials: successes_{arm}={successes},"
            f" n_{arm}={n}. Pass the number of units that converted and the units exposed."
        )
    return successes, n
