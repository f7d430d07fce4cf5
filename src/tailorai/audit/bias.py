"""Bias across user groups: what outputs offer, and how they read, per sensitive attribute.

Rows are one per output: ``{"groups": {"gender": "Female", "age_band": None, ...}, "text": ...}``
or ``{"groups": ..., "features": {...}}`` with features as `text_metrics.features` makes them.
A missing, None, NaN or empty attribute puts the row in group ``"unknown"``, which is counted,
reported and judged like any other group, never dropped.

Per attribute, Fairlearn's `MetricFrame` gives every group's figures, then two kinds of check:

- **disparate impact** for each yes/no outcome (``discount``, ``mentions_price``,
  ``category:...``; ``offensive`` is adverse, so less is better). Each group's rate is divided
  by the best-treated group's (the highest rate, or the lowest for an adverse outcome, whose
  ratio is best/group). A group fails only if its ratio is below the four-fifths threshold
  (0.8) *and* a two-proportion test against the best group gives a Holm-corrected p below
  ``alpha``, so small groups do not raise alarms by noise alone. As the best group is chosen
  from the data, the correction counts all k(k-1)/2 pairs of judged groups, not k - 1. The
  test is the pooled z test (the 2x2 χ² without continuity correction), or Fisher's exact test
  when an expected cell count is below 5. The demographic parity difference (highest minus
  lowest rate among judged groups) is reported.
- **mean gap** for each numeric feature (``sentiment``, ``length_words``, ``reading_ease``,
  ``price``): each group against all other judged rows, Welch's t test (Holm-corrected) and
  Cohen's d with the pooled standard deviation. A group fails when |d| >= ``max_effect``
  (0.2, "small" in Cohen's terms) and the corrected p is below ``alpha``. One group far from
  the rest also moves the rest's mean, so its neighbours may fail too; the evidence names the
  group with the largest |d|.

Groups with fewer than ``min_group`` observations are "insufficient data", never pass or fail,
and are not used as the best-treated reference. A check whose judged groups number fewer than
two is "insufficient data" as a whole; otherwise it fails when any judged group fails, and its
evidence names the groups too small to judge.

``alpha`` defaults to 0.02: at 500 users per group it catches a 20% against 10% discount rate
in about 99% of samples and lets an unbiased 15% pass in about 98% (measured on UCI Adult
users, 500 runs each); 0.05 would fail an unbiased candidate one time in twenty per check.
``alpha`` holds per check unless ``across_checks`` is set: a report with many checks fails an
unbiased candidate more often (about 4.5% of the time over gender and age band on UCI Adult).
With ``across_checks=True`` the checks are corrected as one family: each judged check's
p-value is the smallest among its groups that cross the effect threshold, these are
Holm-corrected over the judged checks, and a check fails only if its corrected p is below
``alpha``. The planted 2x discount gap at 500 users per group is still caught: in 100 of 100
feature-row reports over gender and age band (tests), and in 97 of 100 reports on scored email
texts (`bench/audit.py`: 14 checks; the three misses fail the discount check alone, p ~ 0.01,
but not once corrected over all 14), where per-check alpha failed the unbiased candidate in 10%.

>>> report = BiasReport.from_rows(rows, sensitive=["gender"])  # doctest: +SKIP
>>> [g for g in report.gates() if g["passed"] is False]  # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from functools import partial
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from tailorai.audit.text_metrics import features as text_features
from tailorai.errors import ConfigError, DataError

__all__ = [
    "DEFAULT_ADVERSE",
    "DEFAULT_MEANS",
    "DEFAULT_SENSITIVE",
    "INSUFFICIENT",
    "UNKNOWN",
    "BiasReport",
    "Check",
    "GroupResult",
    "correct_across",
    "holm",
    "two_proportion_p",
]

UNKNOWN = "unknown"
INSUFFICIENT = "insufficient data"
DEFAULT_SENSITIVE = ("gender", "age_band", "segment")
DEFAULT_MEANS = ("sentiment", "length_words", "reading_ease", "price")
DEFAULT_ADVERSE = ("offensive",)

Verdict = Literal["pass", "fail", "insufficient data"]


@dataclass(frozen=True, slots=True)
class GroupResult:
    """One group in one check. `ratio` is the disparate-impact ratio or, for a mean gap,
    Cohen's d against the other groups; `p_value` is Holm-corrected."""

    group: str
    n: int
    value: float | None
    ratio: float | None
    p_value: float | None
    verdict: Verdict


@dataclass(frozen=True, slots=True)
class Check:
    """One verdict: a metric compared across the groups of one attribute."""

    name: str
    kind: Literal["disparate_impact", "mean_gap"]
    attribute: str
    metric: str
    verdict: Verdict
    figure: float | None
    threshold: float
    evidence: str
    reference: str | None = None
    parity_difference: float | None = None
    groups: tuple[GroupResult, ...] = ()

    def gate(self) -> dict[str, Any]:
        passed = None if self.verdict == INSUFFICIENT else self.verdict == "pass"
        return {
            "name": self.name,
            "figure": self.figure,
            "threshold": self.threshold,
            "passed": passed,
            "evidence": self.evidence,
        }


@dataclass(slots=True)
class BiasReport:
    """Per-group figures (`by_group[attribute][group][metric]`, with ``count``) and checks."""

    checks: list[Check]
    by_group: dict[str, dict[str, dict[str, float | None]]]
    settings: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_rows(
        cls,
        rows: Iterable[Mapping[str, Any]],
        *,
        sensitive: Sequence[str] = DEFAULT_SENSITIVE,
        categories: Sequence[str] = (),
        outcomes: Sequence[str] | None = None,
        means: Sequence[str] | None = None,
        adverse: Sequence[str] = DEFAULT_ADVERSE,
        min_group: int = 30,
        alpha: float = 0.02,
        ratio_threshold: float = 0.8,
        max_effect: float = 0.2,
        across_checks: bool = False,
    ) -> BiasReport:
        """Measure rows; `outcomes` defaults to every yes/no feature present, `means` to the
        `DEFAULT_MEANS` present. Texts are scored with `text_metrics.features`.
        `across_checks` corrects the checks as one family (see the module's docstring)."""
        _validate(min_group, alpha, ratio_threshold, max_effect)
        if isinstance(sensitive, str) or not sensitive:
            raise ConfigError(
                "The 'sensitive' parameter of BiasReport must be a non-empty list of attribute "
                f"names, e.g. ['gender', 'age_band']. Got {sensitive!r} instead."
            )
        groups, feats = _read_rows(rows, categories)
        frame = pd.DataFrame(feats)
        if outcomes is None:
            outcomes = [c for c in frame.columns if _is_bool_column(frame[c])]
        if means is None:
            means = [m for m in DEFAULT_MEANS if m in frame.columns]
        columns = {m: _column(frame, m) for m in [*outcomes, *means]}
        settings = {
            "sensitive": list(sensitive),
            "min_group": min_group,
            "alpha": alpha,
            "ratio_threshold": ratio_threshold,
            "max_effect": max_effect,
            "outcomes": list(outcomes),
            "means": list(means),
            "adverse": [a for a in adverse if a in outcomes],
            "across_checks": across_checks,
        }
        checks: list[Check] = []
        by_group: dict[str, dict[str, dict[str, float | None]]] = {}
        for attribute in sensitive:
            labels = pd.Series([_label(g.get(attribute)) for g in groups], name=attribute)
            by_group[attribute] = _metric_frame(labels, columns)
            for metric in outcomes:
                checks.append(
                    _disparate_impact(
                        attribute, metric, labels, columns[metric], metric in adverse, settings
                    )
                )
            for metric in means:
                checks.append(_mean_gap(attribute, metric, labels, columns[metric], settings))
        if across_checks:
            checks = correct_across(checks, alpha)
        return cls(checks=checks, by_group=by_group, settings=settings)

    @property
    def verdict(self) -> Verdict:
        """Overall: fail if any check fails, pass if all pass (and there is one), else
        insufficient data."""
        verdicts = {c.verdict for c in self.checks}
        if "fail" in verdicts:
            return "fail"
        return "pass" if verdicts == {"pass"} else INSUFFICIENT

    def gates(self) -> list[dict[str, Any]]:
        """One dict per check: name, figure, threshold, passed (None: insufficient), evidence."""
        return [check.gate() for check in self.checks]

    def as_dict(self) -> dict[str, Any]:
        """Everything as plain JSON types (NaN becomes None)."""
        return _clean(
            {
                "verdict": self.verdict,
                "settings": self.settings,
                "by_group": self.by_group,
                "checks": [asdict(check) for check in self.checks],
                "gates": self.gates(),
            }
        )


def holm(p_values: Sequence[float], m: int | None = None) -> list[float]:
    """Holm-Bonferroni adjusted p-values, in input order; `m` overrides the number of tests."""
    m = len(p_values) if m is None else m
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    adjusted = [1.0] * len(p_values)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


def _crosses(check: Check, group: GroupResult) -> bool:
    """Whether a judged group's effect is past the check's threshold, whatever its p."""
    if group.verdict == INSUFFICIENT or group.ratio is None or group.p_value is None:
        return False
    if check.kind == "disparate_impact":
        return group.ratio < check.threshold
    return abs(group.ratio) >= check.threshold


def _group_fails(check: Check, group: GroupResult, factor: float, alpha: float) -> bool:
    return _crosses(check, group) and (group.p_value or 1.0) * factor < alpha


def correct_across(checks: Sequence[Check], alpha: float) -> list[Check]:
    """The checks with verdicts Holm-corrected as one family (see the module's docstring).

    A check can only go from fail to pass: the family's correction is never looser than each
    check's own.
    """
    judged = [i for i, c in enumerate(checks) if c.verdict != INSUFFICIENT]
    p_check = [
        min((g.p_value for g in checks[i].groups if _crosses(checks[i], g)), default=1.0)
        for i in judged
    ]
    adjusted = dict(zip(judged, holm(p_check), strict=True))
    # Each check's multiplier in the step-down, so its groups are judged at the same level.
    factor = {i: (adjusted[i] / p if p > 0 else 1.0) for i, p in zip(judged, p_check, strict=True)}
    corrected = []
    for i, check in enumerate(checks):
        if i not in adjusted:
            corrected.append(check)
            continue
        failed = adjusted[i] < alpha
        groups = tuple(
            replace(
                g, verdict="fail" if failed and _group_fails(check, g, factor[i], alpha) else "pass"
            )
            if g.verdict != INSUFFICIENT
            else g
            for g in check.groups
        )
        verdict: Verdict = "fail" if failed else "pass"
        evidence = (
            f"{check.evidence} Corrected across {len(judged)} checks: Holm p="
            f"{adjusted[i]:.2g} vs alpha {alpha}: {verdict}."
        )
        corrected.append(replace(check, verdict=verdict, groups=groups, evidence=evidence))
    return corrected


def two_proportion_p(s1: int, n1: int, s2: int, n2: int) -> float:
    """Two-sided p that two rates differ: pooled z test, Fisher's exact if an expected cell < 5."""
    total = s1 + s2
    if n1 == 0 or n2 == 0 or total in (0, n1 + n2):
        return 1.0
    pooled = total / (n1 + n2)
    expected = min(n1 * pooled, n2 * pooled, n1 * (1 - pooled), n2 * (1 - pooled))
    if expected < 5:
        table = [[s1, n1 - s1], [s2, n2 - s2]]
        return float(stats.fisher_exact(table).pvalue)
    z = (s1 / n1 - s2 / n2) / math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    return float(2 * stats.norm.sf(abs(z)))


def _validate(min_group: int, alpha: float, ratio_threshold: float, max_effect: float) -> None:
    checks = [
        ("min_group", "an int >= 2", isinstance(min_group, int) and min_group >= 2, min_group),
        ("alpha", "a float in (0, 1)", 0 < alpha < 1, alpha),
        ("ratio_threshold", "a float in (0, 1]", 0 < ratio_threshold <= 1, ratio_threshold),
        ("max_effect", "a positive float", max_effect > 0, max_effect),
    ]
    for name, what, ok, got in checks:
        if not ok:
            raise ConfigError(f"The '{name}' parameter of BiasReport must be {what}. Got {got!r}.")


def _read_rows(
    rows: Iterable[Mapping[str, Any]], categories: Sequence[str]
) -> tuple[list[Mapping[str, Any]], list[Mapping[str, Any]]]:
    groups: list[Mapping[str, Any]] = []
    feats: list[Mapping[str, Any] | None] = []
    to_score: list[tuple[int, str]] = []
    for i, row in enumerate(rows):
        groups.append(row.get("groups") or {})
        if row.get("features") is not None:
            feats.append(row["features"])
        elif isinstance(row.get("text"), str):
            feats.append(None)
            to_score.append((i, row["text"]))
        else:
            raise DataError(
                f"Row {i} of the bias audit has neither 'features' nor a 'text' string "
                f"(keys: {sorted(row)}). Give each output's text or its precomputed features."
            )
    if not groups:
        raise DataError("The bias audit got no rows. Give one row per generated output.")
    scored = text_features([text for _, text in to_score], categories)
    for (i, _), f in zip(to_score, scored, strict=True):
        feats[i] = f
    return groups, [f for f in feats if f is not None]


def _label(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return UNKNOWN
    text = str(value).strip()
    return text or UNKNOWN


def _is_bool_column(column: pd.Series) -> bool:
    values = column.dropna()
    return len(values) > 0 and all(isinstance(v, bool | np.bool_) for v in values)


def _column(frame: pd.DataFrame, metric: str) -> np.ndarray:
    if metric not in frame.columns:
        raise ConfigError(
            f"The bias audit has no feature {metric!r} to measure. Features present: "
            f"{sorted(frame.columns)}. Name one of them, or pass rows that carry it."
        )
    return pd.to_numeric(frame[metric], errors="coerce").to_numpy(dtype=float)


def _group_mean(column: np.ndarray, y_true: np.ndarray, rows: np.ndarray) -> float:
    values = column[rows.astype(int)]
    values = values[~np.isnan(values)]
    return float(values.mean()) if len(values) else math.nan


def _metric_frame(
    labels: pd.Series, columns: Mapping[str, np.ndarray]
) -> dict[str, dict[str, float | None]]:
    from fairlearn.metrics import MetricFrame, count

    # y_pred carries row numbers so one frame can hold every feature column at once.
    metrics: dict[str, Any] = {"count": count}
    metrics.update({name: partial(_group_mean, column) for name, column in columns.items()})
    frame = MetricFrame(
        metrics=metrics,
        y_true=np.zeros(len(labels)),
        y_pred=np.arange(len(labels)),
        sensitive_features=labels,
    )
    table = frame.by_group
    return {
        str(group): {name: _none_if_nan(table.loc[group, name]) for name in metrics}
        for group in table.index
    }


def _split(labels: pd.Series, column: np.ndarray) -> dict[str, np.ndarray]:
    present = ~np.isnan(column)
    return {
        str(group): column[(labels.to_numpy() == group) & present]
        for group in sorted(labels.unique())
    }


def _disparate_impact(
    attribute: str,
    metric: str,
    labels: pd.Series,
    column: np.ndarray,
    is_adverse: bool,
    settings: Mapping[str, Any],
) -> Check:
    min_group, alpha, threshold = (
        settings["min_group"],
        settings["alpha"],
        settings["ratio_threshold"],
    )
    name = f"disparate_impact:{attribute}:{metric}"
    per_group = {g: (int(v.sum()), len(v)) for g, v in _split(labels, column).items()}
    rates = {g: s / n if n else math.nan for g, (s, n) in per_group.items()}
    judged = [g for g, (_, n) in per_group.items() if n >= min_group]
    small = _small_note(per_group, judged, min_group)
    if len(judged) < 2:
        results = tuple(
            GroupResult(g, n, _none_if_nan(rates[g]), None, None, INSUFFICIENT)
            for g, (_, n) in per_group.items()
        )
        evidence = (
            f"{metric} by {attribute}: fewer than two groups with at least {min_group} outputs"
            f" ({_counts(per_group)}); nothing to compare."
        )
        return Check(
            name,
            "disparate_impact",
            attribute,
            metric,
            INSUFFICIENT,
            None,
            threshold,
            evidence,
            groups=results,
        )
    pick = min if is_adverse else max
    reference = pick(judged, key=lambda g: rates[g])
    others = [g for g in judged if g != reference]
    s_ref, n_ref = per_group[reference]
    # The reference is picked after looking, so correct for every pair of groups it could
    # have been compared with, not only the k - 1 comparisons made.
    raw = [two_proportion_p(*per_group[g], s_ref, n_ref) for g in others]
    pairs = len(judged) * (len(judged) - 1) // 2
    adjusted = dict(zip(others, holm(raw, m=pairs), strict=True))
    results = []
    for g, (_, n) in per_group.items():
        if g not in judged:
            results.append(GroupResult(g, n, rates[g], None, None, INSUFFICIENT))
            continue
        ratio = _ratio(rates[g], rates[reference], is_adverse)
        p = adjusted.get(g, 1.0)
        failed = ratio < threshold and p < alpha
        results.append(GroupResult(g, n, rates[g], ratio, p, "fail" if failed else "pass"))
    judged_results = [r for r in results if r.verdict != INSUFFICIENT]
    worst = min(judged_results, key=lambda r: (r.ratio, -(r.p_value or 0)))
    verdict: Verdict = "fail" if any(r.verdict == "fail" for r in results) else "pass"
    parity = max(rates[g] for g in judged) - min(rates[g] for g in judged)
    direction = "lowest" if is_adverse else "highest"
    evidence = (
        f"{metric} by {attribute}: reference {reference} ({direction} rate "
        f"{rates[reference]:.1%}, n={n_ref}); worst {worst.group} {worst.value:.1%} "
        f"(n={worst.n}), ratio {worst.ratio:.2f} vs threshold {threshold}, Holm p="
        f"{worst.p_value if worst.p_value is not None else 1.0:.2g} vs alpha {alpha}; "
        f"demographic parity difference {parity:.3f}: {verdict}.{small}"
    )
    return Check(
        name,
        "disparate_impact",
        attribute,
        metric,
        verdict,
        worst.ratio,
        threshold,
        evidence,
        reference=reference,
        parity_difference=parity,
        groups=tuple(results),
    )


def _ratio(rate: float, reference: float, is_adverse: bool) -> float:
    if is_adverse:
        return 1.0 if rate == 0 else reference / rate
    return 1.0 if reference == 0 else rate / reference


def _mean_gap(
    attribute: str,
    metric: str,
    labels: pd.Series,
    column: np.ndarray,
    settings: Mapping[str, Any],
) -> Check:
    min_group, alpha, max_effect = settings["min_group"], settings["alpha"], settings["max_effect"]
    name = f"mean_gap:{attribute}:{metric}"
    values = _split(labels, column)
    sizes = {g: (0, len(v)) for g, v in values.items()}
    judged = [g for g, v in values.items() if len(v) >= min_group]
    small = _small_note(sizes, judged, min_group)
    if len(judged) < 2:
        results = tuple(
            GroupResult(g, len(v), _mean(v), None, None, INSUFFICIENT) for g, v in values.items()
        )
        evidence = (
            f"{metric} by {attribute}: fewer than two groups with at least {min_group} values"
            f" ({_counts(sizes)}); nothing to compare."
        )
        return Check(
            name,
            "mean_gap",
            attribute,
            metric,
            INSUFFICIENT,
            None,
            max_effect,
            evidence,
            groups=results,
        )
    effects, raw_p = {}, []
    for g in judged:
        rest = np.concatenate([values[o] for o in judged if o != g])
        d, p = _welch_d(values[g], rest)
        effects[g] = d
        raw_p.append(p)
    # With two groups both comparisons are the same test: correct for one, not two.
    adjusted = dict(zip(judged, holm(raw_p, m=1 if len(judged) == 2 else None), strict=True))
    results = []
    for g, v in values.items():
        if g not in judged:
            results.append(GroupResult(g, len(v), _mean(v), None, None, INSUFFICIENT))
            continue
        failed = abs(effects[g]) >= max_effect and adjusted[g] < alpha
        results.append(
            GroupResult(g, len(v), _mean(v), effects[g], adjusted[g], "fail" if failed else "pass")
        )
    worst = max((r for r in results if r.ratio is not None), key=lambda r: abs(r.ratio or 0))
    verdict: Verdict = "fail" if any(r.verdict == "fail" for r in results) else "pass"
    figure = abs(worst.ratio or 0.0)
    evidence = (
        f"{metric} by {attribute}: largest gap {worst.group} mean {worst.value:.3g} (n={worst.n})"
        f" vs the other groups, Cohen's d {worst.ratio:+.2f} vs threshold {max_effect}, Holm p="
        f"{worst.p_value:.2g} vs alpha {alpha}: {verdict}.{small}"
    )
    return Check(
        name,
        "mean_gap",
        attribute,
        metric,
        verdict,
        figure,
        max_effect,
        evidence,
        groups=tuple(results),
    )


def _welch_d(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    gap = float(a.mean() - b.mean())
    if np.ptp(a) == 0 and np.ptp(b) == 0:
        # Constant values: identical means are no gap, different ones a certain one. The means
        # of equal values may differ in the last bits of their sums: that is no gap either.
        if math.isclose(float(a[0]), float(b[0]), rel_tol=1e-9, abs_tol=1e-12):
            return 0.0, 1.0
        return math.copysign(math.inf, gap), 0.0
    pooled_var = ((len(a) - 1) * a.var(ddof=1) + (len(b) - 1) * b.var(ddof=1)) / (
        len(a) + len(b) - 2
    )
    p = float(stats.ttest_ind(a, b, equal_var=False).pvalue)
    return gap / math.sqrt(pooled_var), 1.0 if math.isnan(p) else p


def _mean(values: np.ndarray) -> float | None:
    return float(values.mean()) if len(values) else None


def _counts(sizes: Mapping[str, tuple[int, int]]) -> str:
    return ", ".join(f"{g} n={n}" for g, (_, n) in sizes.items())


def _small_note(sizes: Mapping[str, tuple[int, int]], judged: list[str], min_group: int) -> str:
    small = {g: s for g, s in sizes.items() if g not in judged}
    if not small or len(judged) < 2:
        return ""
    return f" Insufficient data (fewer than {min_group}) for: {_counts(small)}."


def _none_if_nan(value: Any) -> float | None:
    value = float(value)
    return None if math.isnan(value) else value


def _clean(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, float | np.floating):
        value = float(value)
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value
