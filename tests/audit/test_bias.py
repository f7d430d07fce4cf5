from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import demographic_parity_difference
from scipy import stats

from tailorai.audit.bias import INSUFFICIENT, UNKNOWN, BiasReport, holm, two_proportion_p
from tailorai.errors import ConfigError, DataError

ADULT_COLUMNS = [
    "age", "workclass", "fnlwgt", "education", "education-num", "marital-status", "occupation",
    "relationship", "race", "sex", "capital-gain", "capital-loss", "hours-per-week",
    "native-country", "income",
]  # fmt: skip


def rows_from(counts: dict[str, tuple[int, int]], attribute: str = "gender") -> list[dict]:
    """`counts[group] = (discounts, outputs)` as rows with precomputed features."""
    rows = []
    for group, (hits, n) in counts.items():
        for i in range(n):
            rows.append({"groups": {attribute: group}, "features": {"discount": i < hits}})
    return rows


def check(report: BiasReport, name: str):
    return next(c for c in report.checks if c.name == name)


def test_metric_frame_figures_match_hand_counts():
    rows = rows_from({"Female": (3, 4), "Male": (1, 4)})
    for row, sentiment in zip(rows, [0.1, 0.2, 0.3, 0.4, -0.5, 0.5, 0.0, 1.0], strict=True):
        row["features"]["sentiment"] = sentiment
    report = BiasReport.from_rows(rows, sensitive=["gender"], min_group=2)
    assert report.by_group["gender"] == {
        "Female": {"count": 4.0, "discount": 0.75, "sentiment": pytest.approx(0.25)},
        "Male": {"count": 4.0, "discount": 0.25, "sentiment": pytest.approx(0.25)},
    }
    di = check(report, "disparate_impact:gender:discount")
    assert di.reference == "Female"
    assert di.figure == pytest.approx(1 / 3)
    assert di.parity_difference == pytest.approx(0.5)
    assert [c.name for c in report.checks] == [
        "disparate_impact:gender:discount",
        "mean_gap:gender:sentiment",
    ]


def test_parity_difference_agrees_with_fairlearn():
    rows = rows_from({"a": (30, 100), "b": (45, 120), "c": (10, 80)}, attribute="segment")
    report = BiasReport.from_rows(rows, sensitive=["segment"])
    labels = [r["groups"]["segment"] for r in rows]
    y_pred = [int(r["features"]["discount"]) for r in rows]
    expected = demographic_parity_difference(np.zeros(len(rows)), y_pred, sensitive_features=labels)
    assert check(report, "disparate_impact:segment:discount").parity_difference == pytest.approx(
        expected
    )


@pytest.mark.parametrize(
    "missing", [{}, {"gender": None}, {"gender": ""}, {"gender": float("nan")}]
)
def test_missing_attribute_is_reported_as_unknown(missing):
    rows = rows_from({"Female": (10, 40), "Male": (10, 40)})
    rows += [{"groups": missing, "features": {"discount": True}} for _ in range(35)]
    report = BiasReport.from_rows(rows, sensitive=["gender"])
    assert report.by_group["gender"][UNKNOWN]["count"] == 35
    groups = {g.group: g for g in check(report, "disparate_impact:gender:discount").groups}
    assert groups[UNKNOWN].n == 35 and groups[UNKNOWN].value == 1.0
    assert sum(g.n for g in groups.values()) == len(rows)


def test_small_group_is_insufficient_data_never_pass_or_fail():
    rows = rows_from({"Female": (10, 100), "Male": (1, 10)})
    di = check(BiasReport.from_rows(rows, sensitive=["gender"]), "disparate_impact:gender:discount")
    assert di.verdict == INSUFFICIENT
    assert di.gate()["passed"] is None
    assert {g.verdict for g in di.groups} == {INSUFFICIENT}
    assert "fewer than two groups" in di.evidence


def test_small_group_is_named_while_the_others_are_judged():
    rows = rows_from({"Female": (20, 100), "Male": (20, 100), "Other": (0, 12)})
    di = check(BiasReport.from_rows(rows, sensitive=["gender"]), "disparate_impact:gender:discount")
    assert di.verdict == "pass"
    assert {g.group: g.verdict for g in di.groups}["Other"] == INSUFFICIENT
    assert "Insufficient data (fewer than 30) for: Other n=12" in di.evidence


def test_four_fifths_alone_does_not_flag_a_small_sample():
    # 6/10 against 8/10: ratio 0.75, but Fisher's p is far from significant.
    rows = rows_from({"Female": (8, 10), "Male": (6, 10)})
    lowered = check(
        BiasReport.from_rows(rows, sensitive=["gender"], min_group=10),
        "disparate_impact:gender:discount",
    )
    assert lowered.figure == pytest.approx(0.75)
    assert lowered.verdict == "pass"
    default = check(BiasReport.from_rows(rows, sensitive=["gender"]), lowered.name)
    assert default.verdict == INSUFFICIENT


def test_significance_alone_does_not_flag_a_small_gap():
    rows = rows_from({"Female": (5000, 10000), "Male": (4500, 10000)})
    di = check(BiasReport.from_rows(rows, sensitive=["gender"]), "disparate_impact:gender:discount")
    assert di.figure == pytest.approx(0.9)
    assert {g.group: g.p_value for g in di.groups}["Male"] < 1e-9
    assert di.verdict == "pass"


def test_large_significant_gap_fails():
    rows = rows_from({"Female": (40, 200), "Male": (10, 200)})
    report = BiasReport.from_rows(rows, sensitive=["gender"])
    di = check(report, "disparate_impact:gender:discount")
    assert di.verdict == "fail" and report.verdict == "fail"
    assert {g.group: g.verdict for g in di.groups} == {"Female": "pass", "Male": "fail"}
    assert di.gate() == {
        "name": "disparate_impact:gender:discount",
        "figure": pytest.approx(0.25),
        "threshold": 0.8,
        "passed": False,
        "evidence": di.evidence,
    }
    assert "worst Male 5.0%" in di.evidence


def test_adverse_outcome_compares_with_the_least_exposed_group():
    rows = [
        {"groups": {"age_band": "18-24"}, "features": {"offensive": i < 40}} for i in range(200)
    ]
    rows += [{"groups": {"age_band": "65+"}, "features": {"offensive": i < 4}} for i in range(200)]
    di = check(
        BiasReport.from_rows(rows, sensitive=["age_band"]), "disparate_impact:age_band:offensive"
    )
    assert di.reference == "65+"
    assert di.figure == pytest.approx(0.1)
    assert {g.group: g.verdict for g in di.groups} == {"18-24": "fail", "65+": "pass"}


def test_mean_gap_uses_effect_size_and_significance():
    rng = np.random.default_rng(0)
    rows = []
    for group, shift in [("a", 0.0), ("b", 0.0), ("c", 0.8)]:
        for value in rng.normal(shift, 1.0, 200):
            rows.append({"groups": {"segment": group}, "features": {"sentiment": float(value)}})
    report = BiasReport.from_rows(rows, sensitive=["segment"], outcomes=[])
    gap = check(report, "mean_gap:segment:sentiment")
    assert gap.verdict == "fail"
    effects = {g.group: g.ratio for g in gap.groups}
    assert max(effects, key=lambda g: abs(effects[g])) == "c"
    assert gap.figure == pytest.approx(abs(effects["c"])) and gap.figure > 0.5
    assert "largest gap c mean" in gap.evidence
    calm = [r for r in rows if r["groups"]["segment"] != "c"]
    assert check(BiasReport.from_rows(calm, sensitive=["segment"]), gap.name).verdict == "pass"


def test_texts_are_scored_and_the_report_is_json():
    texts = {"Female": "Take 20% off dresses, just $30!", "Male": "Our new hats are here."}
    rows = [{"groups": {"gender": g, "segment": None}, "text": t} for g, t in texts.items()]
    rows = rows * 40
    report = BiasReport.from_rows(rows, categories=["dress", "hat"])
    assert report.by_group["gender"]["Female"]["discount"] == 1.0
    assert report.by_group["gender"]["Male"]["category:hat"] == 1.0
    assert report.by_group["segment"] == {
        UNKNOWN: pytest.approx(report.by_group["segment"][UNKNOWN])
    }
    assert check(report, "disparate_impact:gender:discount").verdict == "fail"
    assert check(report, "disparate_impact:age_band:discount").verdict == INSUFFICIENT
    data = report.as_dict()
    json.dumps(data, allow_nan=False)
    assert data["by_group"]["gender"]["Male"]["price"] is None
    assert data["verdict"] == "fail"
    assert {g["name"] for g in data["gates"]} >= {"mean_gap:gender:length_words"}


@pytest.mark.parametrize(
    ("option", "value"),
    [("min_group", 1), ("alpha", 0.0), ("ratio_threshold", 1.5), ("max_effect", 0)],
)
def test_invalid_settings_are_config_errors(option, value):
    with pytest.raises(ConfigError, match=f"'{option}' parameter of BiasReport"):
        BiasReport.from_rows(rows_from({"a": (1, 2)}), **{option: value})


def test_rows_without_text_or_features_are_data_errors():
    with pytest.raises(DataError, match=r"Row 0 .* neither 'features' nor a 'text'"):
        BiasReport.from_rows([{"groups": {"gender": "Female"}}])
    with pytest.raises(DataError, match="no rows"):
        BiasReport.from_rows([])


def test_two_proportion_p_matches_chi_square_and_fisher():
    table = [[40, 160], [20, 180]]
    chi2 = stats.chi2_contingency(table, correction=False).pvalue
    assert two_proportion_p(40, 200, 20, 200) == pytest.approx(chi2)
    assert two_proportion_p(3, 10, 0, 10) == pytest.approx(stats.fisher_exact([[3, 7], [0, 10]])[1])
    assert two_proportion_p(0, 10, 0, 10) == 1.0


def test_holm():
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([]) == []
    assert holm([0.01, 0.02], m=6) == pytest.approx([0.06, 0.1])


@pytest.fixture(scope="module")
def adult(shared_data) -> pd.DataFrame:
    path = shared_data / "uci_adult" / "adult.data"
    if not path.is_file():
        pytest.skip(f"UCI Adult data not found at {path}; the planted-fault test needs it")
    frame = pd.read_csv(path, names=ADULT_COLUMNS, skipinitialspace=True).dropna(subset=["sex"])
    frame["age_band"] = pd.cut(
        frame["age"], [0, 24, 34, 44, 54, 64, 200], labels=["<25", "25-34", "35-44", "45-54",
                                                            "55-64", "65+"]
    ).astype(str)  # fmt: skip
    return frame


def gender_gate_verdicts(adult: pd.DataFrame, rates: dict[str, float], seed: int, runs: int):
    """Each run samples 500 real users per gender and draws discounts at the candidate's rates."""
    rng = np.random.default_rng(seed)
    by_sex = {sex: adult[adult["sex"] == sex] for sex in rates}
    verdicts = []
    for _ in range(runs):
        users = pd.concat(
            [frame.iloc[rng.choice(len(frame), 500, replace=False)] for frame in by_sex.values()]
        )
        discounts = rng.random(len(users)) < users["sex"].map(rates).to_numpy()
        rows = [
            {"groups": {"gender": sex, "age_band": band}, "features": {"discount": bool(d)}}
            for sex, band, d in zip(users["sex"], users["age_band"], discounts, strict=True)
        ]
        report = BiasReport.from_rows(rows, sensitive=["gender"])
        verdicts.append(check(report, "disparate_impact:gender:discount").verdict)
    return verdicts


RUNS = 100


def test_planted_fault_twice_the_discounts_for_one_gender_is_caught(adult):
    verdicts = gender_gate_verdicts(adult, {"Female": 0.20, "Male": 0.10}, seed=1, runs=RUNS)
    caught = verdicts.count("fail") / RUNS
    print(f"biased candidate caught in {caught:.0%} of {RUNS} runs")
    assert caught >= 0.95


def test_planted_fault_unbiased_candidate_passes(adult):
    verdicts = gender_gate_verdicts(adult, {"Female": 0.15, "Male": 0.15}, seed=2, runs=RUNS)
    passed = verdicts.count("pass") / RUNS
    print(f"unbiased candidate passed in {passed:.0%} of {RUNS} runs")
    assert passed >= 0.95


def whole_report_verdicts(adult, rates, seed, runs, across_checks):
    """The whole report (gender and age band, discounts and lengths), not one check."""
    rng = np.random.default_rng(seed)
    by_sex = {sex: adult[adult["sex"] == sex] for sex in rates}
    verdicts = []
    for _ in range(runs):
        users = pd.concat(
            [frame.iloc[rng.choice(len(frame), 500, replace=False)] for frame in by_sex.values()]
        )
        discounts = rng.random(len(users)) < users["sex"].map(rates).to_numpy()
        lengths = rng.normal(60, 15, len(users))
        rows = [
            {
                "groups": {"gender": sex, "age_band": band},
                "features": {"discount": bool(d), "length_words": float(n)},
            }
            for sex, band, d, n in zip(
                users["sex"], users["age_band"], discounts, lengths, strict=True
            )
        ]
        report = BiasReport.from_rows(
            rows, sensitive=["gender", "age_band"], across_checks=across_checks
        )
        verdicts.append(report.verdict)
    return verdicts


def test_correcting_across_checks_keeps_the_unbiased_false_alarms_under_alpha(adult):
    fair = {"Female": 0.15, "Male": 0.15}
    per_check = whole_report_verdicts(adult, fair, seed=3, runs=RUNS, across_checks=False)
    family = whole_report_verdicts(adult, fair, seed=3, runs=RUNS, across_checks=True)
    print(f"unbiased failed: {per_check.count('fail')} per check, {family.count('fail')} family")
    assert family.count("fail") <= per_check.count("fail")
    assert family.count("fail") / RUNS <= 0.02 + 0.03  # alpha plus sampling room
    biased = whole_report_verdicts(
        adult, {"Female": 0.20, "Male": 0.10}, seed=4, runs=RUNS, across_checks=True
    )
    assert biased.count("fail") / RUNS >= 0.95


def test_correction_across_checks_names_the_family_in_the_evidence():
    rows = [{"groups": {"gender": "F"}, "features": {"discount": i % 5 == 0}} for i in range(200)]
    rows += [{"groups": {"gender": "M"}, "features": {"discount": i % 10 == 0}} for i in range(200)]
    report = BiasReport.from_rows(rows, sensitive=["gender"], across_checks=True)
    [di] = [c for c in report.checks if c.kind == "disparate_impact"]
    assert di.verdict == "fail"
    assert "Corrected across 1 checks" in di.evidence
    assert [g.verdict for g in di.groups if g.group == "M"] == ["fail"]


def test_equal_constant_values_are_no_gap_whatever_their_sums_round_to():
    # 0.4019 summed 58 and 102 times gives means that differ in the last bits.
    rows = [{"groups": {"gender": "F"}, "features": {"sentiment": 0.4019}} for _ in range(58)]
    rows += [{"groups": {"gender": "M"}, "features": {"sentiment": 0.4019}} for _ in range(102)]
    [gap] = [c for c in BiasReport.from_rows(rows, sensitive=["gender"]).checks]
    assert gap.verdict == "pass" and gap.figure == 0.0
