"""Training-data balance on the shipped customer-support sample, with the real augmenters."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tailorai.cli import main
from tailorai.data.balance import (
    INSUFFICIENT,
    UNKNOWN,
    group_of,
    read_dataset,
    read_users,
    rebalance,
    representation,
    stored_users,
)
from tailorai.errors import ConfigError, DataError
from tailorai.store import Store

TAILOR = [sys.executable, "-m", "tailorai.cli"]


def _record(i: int, prompt: str, reply: str = "Happy to help.", **meta: Any) -> dict[str, Any]:
    """A record as `tailor data prepare` writes it."""
    return {
        "id": f"ex{i}",
        "user_id": f"u{i}",
        "messages": [{"role": "user", "content": prompt}, {"role": "assistant", "content": reply}],
        "source": "test",
        "meta": {"conversation_id": f"c{i}", **meta},
    }


def _skewed(n_major: int, n_minor: int, n_unknown: int = 0) -> list[dict[str, Any]]:
    """`n_major` records of plan "pro", `n_minor` of "free", `n_unknown` with no plan."""
    plans = ["pro"] * n_major + ["free"] * n_minor + [None] * n_unknown
    return [
        _record(i, f"Question {i} about my order", **({"plan": p} if p else {}))
        for i, p in enumerate(plans)
    ]


def _write_jsonl(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def support_records(samples: Path) -> list[dict[str, Any]]:
    """36 shipped Bitext support examples, the first 12 of "free" users, the rest "pro"."""
    path = samples / "Bitext_Sample_Customer_Support_Training_Dataset_4514.csv"
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))[::90][:36]
    return [
        _record(
            i, r["instruction"], r["response"], intent=r["intent"], plan="free" if i < 12 else "pro"
        )
        for i, r in enumerate(rows)
    ]


def test_missing_values_are_the_unknown_group_counted_and_never_dropped() -> None:
    records = _skewed(40, 32)
    records += [_record(100, "hi"), _record(101, "hi", plan=None), _record(102, "hi", plan=" ")]
    records += [_record(103, "hi", plan=float("nan"))]
    report = representation(records, "plan")
    counts = report.counts()
    assert counts == {"pro": 40, "free": 32, UNKNOWN: 4}
    assert report.total == len(records)
    unknown = next(g for g in report.groups if g.group == UNKNOWN)
    assert unknown.status == "not judged" and unknown.share == pytest.approx(4 / 76)
    assert report.ratio == pytest.approx(32 / 40) and report.verdict == "pass"


def test_an_under_represented_group_fails_at_min_ratio() -> None:
    report = representation(_skewed(40, 31), "plan")
    assert report.verdict == "fail"
    assert {g.group: g.status for g in report.groups} == {"pro": "ok", "free": "under-represented"}
    assert representation(_skewed(40, 31), "plan", min_ratio=0.75).verdict == "pass"


def test_tiny_groups_are_insufficient_data_never_pass_or_fail() -> None:
    records = _skewed(40, 3)
    report = representation(records, "plan")
    assert {g.group: g.status for g in report.groups} == {"pro": "ok", "free": INSUFFICIENT}
    assert report.verdict == INSUFFICIENT and report.ratio is None

    result = rebalance(records, "plan", strategy="downsample", methods=())
    assert result.records == records  # nothing to balance against: nothing changes
    assert result.report.after.verdict == INSUFFICIENT
    assert "Fewer than two groups" in result.report.note

    # Beside two judged groups, a tiny one is left alone, neither resampled nor the target.
    records += [_record(200 + i, "x", plan="trial") for i in range(2)]
    records += [_record(300 + i, "x", plan="team") for i in range(35)]
    result = rebalance(records, "plan", strategy="downsample", methods=())
    assert result.report.after.counts() == {"pro": 35, "team": 35, "free": 3, "trial": 2}
    assert "insufficient data): free, trial" in result.report.note


def test_the_group_comes_from_the_record_else_its_meta_else_the_users_file(tmp_path) -> None:
    users_csv = tmp_path / "users.csv"
    users_csv.write_text("user_id, gender\nu1, female\nu2,\nu3, male\n", encoding="utf-8")
    users = read_users(users_csv)
    top = {**_record(1, "hi"), "gender": "nonbinary"}
    assert group_of(top, "gender", users) == "nonbinary"  # the record's own value wins
    assert group_of(_record(1, "hi", gender="female"), "gender") == "female"
    assert group_of({**_record(3, "hi"), "profile": {"gender": "male"}}, "gender") == "male"
    assert group_of(_record(1, "hi"), "gender", users) == "female"
    assert group_of(_record(2, "hi"), "gender", users) == UNKNOWN  # empty in the file
    assert group_of(_record(9, "hi"), "gender", users) == UNKNOWN  # not in the file


def test_users_table_traits_are_joined_on_user_id(tmp_path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'tailor.db'}")
    try:
        store.upsert_users({"u0": {"gender": "female"}, "u1": {"gender": "male"}}, project="shop")
        users = stored_users(store, "shop")
        with pytest.raises(DataError, match="no users of project 'other'"):
            stored_users(store, "other")
    finally:
        store.close()
    records = [_record(i, "hi") for i in range(3)]
    assert representation(records, "gender", users=users).counts() == {
        "female": 1,
        "male": 1,
        UNKNOWN: 1,
    }


def test_an_attribute_no_record_has_is_one_clear_error() -> None:
    with pytest.raises(DataError, match=r"No record has a value for 'age'.*found: .*plan"):
        representation(_skewed(3, 3), "age")


def test_upsample_adds_distinct_marked_rewrites_and_reaches_balance(support_records) -> None:
    originals = json.dumps(support_records)
    result = rebalance(support_records, "plan", min_group=10, methods=("templates",), seed=3)
    report = result.report
    assert report.before.counts() == {"pro": 24, "free": 12} and report.before.verdict == "fail"
    assert report.after.counts() == {"pro": 24, "free": 24} and report.after.verdict == "pass"
    assert json.dumps(support_records) == originals  # inputs are not modified
    assert result.records[:36] == support_records

    new = result.records[36:]
    assert all(r["meta"]["plan"] == "free" for r in new)
    rewrites = [r for r in new if r["meta"]["balance"]["action"] == "upsampled"]
    copies = [r for r in new if r["meta"]["balance"]["action"] == "duplicated"]
    assert len(rewrites) == report.augmented > 0
    assert len(copies) == report.duplicated == 12 - report.augmented
    assert report.augment["templates"]["kept"] >= report.augmented
    by_id = {r["id"]: r for r in support_records}
    prompts = {r["messages"][0]["content"] for r in support_records}
    for r in rewrites:
        source = by_id[r["meta"]["balance"]["of"]]
        assert r["meta"]["augmented"]["method"] == "templates"
        assert r["messages"][0]["content"] not in prompts  # a new phrasing, not a copy
        assert r["messages"][1] == source["messages"][1]  # the reply is kept
        assert r["user_id"] == source["user_id"]
        assert r["meta"]["conversation_id"] == source["meta"]["conversation_id"]
    for r in copies:
        source = by_id[r["meta"]["balance"]["of"]]
        assert r["messages"] == source["messages"] and r["id"] != source["id"]
    assert len({r["id"] for r in result.records}) == len(result.records)

    again = rebalance(support_records, "plan", min_group=10, methods=("templates",), seed=3)
    assert again.records == result.records


def test_upsample_copies_when_augmentation_has_nothing_and_counts_them() -> None:
    # Templates need a known intent: these records have none, so only copies can balance them.
    result = rebalance(_skewed(40, 30), "plan", methods=("templates",))
    assert result.report.added == {"free": {"augmented": 0, "duplicated": 10}}
    assert result.report.after.counts() == {"pro": 40, "free": 40}


def test_downsample_is_seeded_and_deterministic() -> None:
    records = _skewed(60, 30, n_unknown=5)

    def kept(seed: int) -> list[str]:
        result = rebalance(records, "plan", strategy="downsample", seed=seed)
        assert result.report.removed == {"pro": 30}
        assert result.report.after.counts() == {"pro": 30, "free": 30, UNKNOWN: 5}
        assert all(r in records for r in result.records)  # originals, unchanged
        return [r["id"] for r in result.records]

    first = kept(1)
    assert first == kept(1)
    assert first != kept(2)
    assert first == sorted(first, key=lambda i: int(i[2:]))  # input order kept


def test_both_meets_at_the_median_group() -> None:
    records = _skewed(60, 30) + [_record(100 + i, "x", plan="team") for i in range(40)]
    result = rebalance(records, "plan", strategy="both", methods=())
    assert result.report.target == 40
    assert result.report.after.counts() == {"pro": 40, "free": 40, "team": 40}
    assert result.report.removed == {"pro": 20}
    assert result.report.added == {"free": {"augmented": 0, "duplicated": 10}}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"strategy": "sideways"}, "Unknown balance strategy 'sideways'. Use one of upsample"),
        ({"methods": ["synonyms", "magic"]}, "Unknown augmentation method.*magic"),
        ({"min_ratio": 0}, "'min_ratio' parameter must be a float in \\(0, 1\\]. Got 0"),
        ({"min_group": 0}, "'min_group' parameter must be an int >= 1. Got 0"),
    ],
)
def test_bad_options_say_what_is_valid(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        rebalance(_skewed(3, 3), "plan", **options)


def test_bad_lines_are_quarantined_and_good_ones_kept(tmp_path) -> None:
    path = _write_jsonl(tmp_path / "data.jsonl", _skewed(2, 1))
    with path.open("a") as f:
        f.write('not json\n["a list"]\n{"messages": [{"role": "user"}]}\n\n')
    dataset = read_dataset(path)
    assert len(dataset.records) == 3
    assert [q.line for q in dataset.quarantined] == [4, 5, 6]
    assert "message 0 needs text 'role' and 'content'" in dataset.quarantined[2].error
    assert rebalance(dataset, "plan", methods=()).report.quarantined == 3

    (tmp_path / "prepared").mkdir()
    _write_jsonl(tmp_path / "prepared" / "train.jsonl", _skewed(1, 1))
    assert len(read_dataset(tmp_path / "prepared").records) == 2  # a folder: its train.jsonl
    bad = _write_jsonl(tmp_path / "bad.jsonl", [{"oops": 1}])
    with pytest.raises(DataError, match=r"No usable records in .*bad\.jsonl: 1 line"):
        read_dataset(bad)


def test_other_formats_are_read_through_the_data_stage_readers(samples: Path) -> None:
    dataset = read_dataset(samples / "Bitext_Sample_Customer_Support_Training_Dataset_4514.csv")
    report = representation(dataset, "category")
    assert report.total == 4514 and report.counts()["ACCOUNT"] == 1041
    assert report.verdict == "fail"


def test_cli_downsamples_writes_the_dataset_and_report(tmp_path) -> None:
    data = _write_jsonl(tmp_path / "train.jsonl", _skewed(50, 30, n_unknown=4))
    with data.open("a") as f:
        f.write("{broken\n")
    users = tmp_path / "users.csv"
    users.write_text("user_id,plan\nu80,free\nu81,free\n", encoding="utf-8")
    out, report = tmp_path / "balanced.jsonl", tmp_path / "report.json"
    args = [str(data), "--by", "plan", "--users", str(users), "--strategy", "downsample"]
    args += ["--out", str(out), "--report", str(report), "--seed", "7"]
    result = subprocess.run(
        [*TAILOR, "data", "balance", *args], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "under-represented → ok" in result.stdout
    assert "1 unreadable line(s) quarantined" in result.stdout
    written = [json.loads(line) for line in out.read_text().splitlines()]
    # Two unknown users were joined as "free" from the users file: 32 free, 2 still unknown.
    assert len(written) == 32 + 32 + 2
    saved = json.loads(report.read_text())
    assert saved["before"]["verdict"] == "fail" and saved["after"]["verdict"] == "pass"
    assert saved["removed_by_group"] == {"pro": 18} and saved["quarantined"] == 1
    quarantine = tmp_path / "balanced.quarantine.jsonl"
    assert json.loads(quarantine.read_text())["line"] == 85


def test_cli_upsamples_with_augmenters_and_prints_json(tmp_path, capsys, support_records):
    data = _write_jsonl(tmp_path / "train.jsonl", support_records)
    out = tmp_path / "balanced.jsonl"
    args = ["data", "balance", str(data), "--by", "plan", "--min-group", "10"]
    with pytest.raises(SystemExit) as done:
        main([*args, "--augment", "templates", "--out", str(out), "--json"])
    assert done.value.code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["after"]["verdict"] == "pass" and report["augmented"] > 0
    assert len(out.read_text().splitlines()) == 48


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.jsonl", "--by", "plan"], "Input missing.jsonl does not exist"),
        (["{data}", "--by", "plan", "--strategy", "sideways"], "Unknown balance strategy"),
        (["{data}", "--by", "age"], "No record has a value for 'age'"),
        (["{data}", "--by", "plan", "--users", "{data}x"], "Users file"),
        (["{data}", "--by", "plan", "--users", "{data}", "--users-table"], "not both"),
    ],
)
def test_cli_bad_input_is_one_error_line(tmp_path, capsys, args, message) -> None:
    data = _write_jsonl(tmp_path / "train.jsonl", _skewed(3, 3))
    code = main(["data", "balance", *[a.format(data=data) for a in args]])
    captured = capsys.readouterr()
    assert code == 1
    assert captured.err.strip().startswith("Error: ") and message in captured.err
    assert len(captured.err.strip().splitlines()) == 1 and "Traceback" not in captured.err


def test_cli_bad_input_has_no_traceback_in_a_real_process(tmp_path) -> None:
    data = _write_jsonl(tmp_path / "train.jsonl", _skewed(3, 3))
    result = subprocess.run(
        [*TAILOR, "data", "balance", str(data), "--by", "gender"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    assert result.stderr.startswith("Error: No record has a value for 'gender'")
