"""The whole pipeline, end to end, on the shipped samples."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest

from tailorai.data import PrepareConfig, prepare
from tailorai.errors import DataError

# `tailorai.data.prepare` the attribute is the function; the module is needed to patch it.
prepare_module = importlib.import_module("tailorai.data.prepare")
SMALL = ("support_chats.jsonl", "support_mail.mbox", "feedback_form.csv")
# Personal data written into the small samples; none of it may reach a dataset file.
KNOWN_PII = [
    "maria.gonzalez@example.com",
    "Maria Gonzalez",
    "maria gonzalez",
    "(217) 555-0143",
    "4111 1111 1111 1111",
    "42 Oak Street",
    "Tom Becker",
    "tom.becker@example.org",
    "415 555 0199",
]


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _assert_counts_add_up(report: dict) -> None:
    assert report["records_in"] == (
        report["records_kept"]
        + sum(report["records_dropped"].values())
        + report["records_quarantined"]
    )


@pytest.fixture(scope="module")
def small_dataset(tmp_path_factory, samples, tokenizer):
    out = tmp_path_factory.mktemp("small") / "dataset"
    config = PrepareConfig(our_addresses=["@shop.example"], export=["openai"])
    report = prepare([samples / n for n in SMALL], out, config, tokenizer=tokenizer)
    return out, report


def test_outputs_and_report(small_dataset):
    out, report = small_dataset
    assert sorted(p.name for p in out.iterdir()) == [
        "openai.jsonl",
        "quarantine.jsonl",
        "report.json",
        "train.jsonl",
        "validation.jsonl",
    ]
    assert json.loads((out / "report.json").read_text()) == {
        k: v for k, v in report.items() if k != "seconds"
    }
    _assert_counts_add_up(report)
    for key in (
        "records_in",
        "records_kept",
        "records_dropped",
        "records_quarantined",
        "examples",
        "pii",
        "languages",
        "tokens",
        "steps",
    ):
        assert key in report
    assert [s["name"] for s in report["steps"]][:8] == [
        "read",
        "clean",
        "language",
        "sentences",
        "filter",
        "exact_dedupe",
        "near_dedupe",
        "anonymize",
    ]
    assert all({"name", "in", "out", "seconds"} <= set(s) for s in report["steps"])
    assert report["records_dropped"] == {"exact_duplicate": 1}  # c-4 repeats c-2 in lower case
    assert report["tokens"]["p50"] > 0 and report["tokens"]["max"] >= report["tokens"]["p95"]
    assert report["languages"]["en"] >= 5 and report["languages"]["es"] == 1


def test_examples_have_the_documented_shape(small_dataset):
    out, report = small_dataset
    train = _lines(out / "train.jsonl")
    validation = _lines(out / "validation.jsonl")
    assert (
        len(train) == report["examples"]["train"]
        and len(validation) == report["examples"]["validation"]
    )
    for example in train + validation:
        assert set(example) == {"id", "user_id", "messages", "source", "meta"}
        assert example["messages"][-1]["role"] == "assistant"
        assert example["messages"][0]["role"] in ("user", "system")
    users_train = {e["user_id"] for e in train}
    users_validation = {e["user_id"] for e in validation}
    assert users_train.isdisjoint(users_validation)
    mail = [e for e in train + validation if e["meta"].get("channel") == "email"]
    assert len(mail) == 2  # the support thread: two replies
    assert [e["messages"] for e in _lines(out / "openai.jsonl")] == [e["messages"] for e in train]


def test_no_personal_data_reaches_the_dataset(small_dataset):
    out, report = small_dataset
    written = "\n".join(
        (out / name).read_text(encoding="utf-8")
        for name in ("train.jsonl", "validation.jsonl", "openai.jsonl")
    )
    for value in KNOWN_PII:
        assert value.lower() not in written.lower(), f"{value!r} leaked into the dataset"
    assert "<PERSON>" in written and "<EMAIL_ADDRESS>" in written
    assert report["pii"]["PERSON"] >= 3 and report["pii"]["EMAIL_ADDRESS"] >= 1


def test_bad_records_are_quarantined_with_place_and_reason(small_dataset, samples):
    out, report = small_dataset
    quarantined = _lines(out / "quarantine.jsonl")
    assert len(quarantined) == report["records_quarantined"] == 3
    places = {(Path(q["source"]).name, q["line"]) for q in quarantined}
    assert places == {
        ("support_chats.jsonl", 8),
        ("feedback_form.csv", 5),
        ("feedback_form.csv", 6),
    }
    assert all(q["error"] and q["raw"] for q in quarantined)


def test_language_filter_and_counts_on_shipped_data(tmp_path, samples, tokenizer):
    config = PrepareConfig(languages=["en"], pii="off")
    report = prepare(
        [samples / "support_chats.jsonl", samples / "SMSSpamCollection"],
        tmp_path,
        config,
        tokenizer=tokenizer,
    )
    _assert_counts_add_up(report)
    assert report["records_dropped"]["language:es"] >= 1
    assert not any(r.startswith("language:en") for r in report["records_dropped"])
    assert report["records_in"] == 5574 + 5 + 1


def test_pseudonyms_are_consistent_across_runs(tmp_path, samples, tokenizer):
    config = PrepareConfig(pii="pseudonym", pii_secret="k1", validation_fraction=0)
    inputs = [samples / "support_chats.jsonl"]
    first = (prepare(inputs, tmp_path / "a", config, tokenizer=tokenizer), tmp_path / "a")
    second = (prepare(inputs, tmp_path / "b", config, tokenizer=tokenizer), tmp_path / "b")
    a = (first[1] / "train.jsonl").read_text()
    b = (second[1] / "train.jsonl").read_text()
    assert a == b
    assert "maria.gonzalez@example.com" not in a and "<EMAIL_ADDRESS>" not in a
    other = PrepareConfig(pii="pseudonym", pii_secret="k2", validation_fraction=0)
    prepare(inputs, tmp_path / "c", other, tokenizer=tokenizer)
    assert (tmp_path / "c" / "train.jsonl").read_text() != a


def test_augmented_examples_go_to_train_only_and_are_marked(tmp_path, samples, tokenizer):
    support = tmp_path / "support.csv"
    lines = (
        (samples / "Bitext_Sample_Customer_Support_Training_Dataset_4514.csv")
        .read_text(encoding="utf-8")
        .splitlines(keepends=True)
    )
    support.write_text("".join(lines[:200]), encoding="utf-8")  # header + the first rows
    config = PrepareConfig(
        augment=["templates"], augment_min_similarity=0.6, pii="off", split_by="conversation"
    )
    report = prepare([support], tmp_path / "out", config, tokenizer=tokenizer)
    train = _lines(tmp_path / "out" / "train.jsonl")
    validation = _lines(tmp_path / "out" / "validation.jsonl")
    augmented = [e for e in train if "augmented" in e["meta"]]
    assert len(augmented) == report["augmented"]["added"] > 0
    assert not any("augmented" in e["meta"] for e in validation)
    originals = {e["id"]: e for e in train}
    for example in augmented:
        source = originals[example["meta"]["augmented"]["of"]]
        assert example["messages"][-1] == source["messages"][-1]  # the reply is kept
        assert example["messages"][0]["content"] != source["messages"][0]["content"]
    _assert_counts_add_up(report)


def test_a_crash_while_writing_leaves_no_complete_looking_dataset(
    tmp_path, samples, tokenizer, monkeypatch
):
    out = tmp_path / "ds"
    config = PrepareConfig(pii="off")
    prepare([samples / "support_chats.jsonl"], out, config, tokenizer=tokenizer)
    assert (out / "report.json").exists()
    calls = []

    def failing_write(path, rows):
        calls.append(path.name)
        if path.name == "validation.jsonl":
            raise OSError("disk full")
        return real_write(path, rows)

    real_write = prepare_module._write_jsonl
    monkeypatch.setattr(prepare_module, "_write_jsonl", failing_write)
    with pytest.raises(OSError, match="disk full"):
        prepare([samples / "support_chats.jsonl"], out, config, tokenizer=tokenizer)
    assert not (out / "report.json").exists()  # the old dataset no longer looks complete
    assert not [p for p in out.iterdir() if p.name.startswith(".partial-")]


def test_nothing_usable_is_a_data_error(tmp_path, tokenizer):
    path = tmp_path / "empty.jsonl"
    path.write_text('{"messages": [{"role": "user", "content": "only a question?"}]}\n')
    with pytest.raises(DataError, match=r"Nothing usable remained.*no_assistant_turn: 1"):
        prepare([path], tmp_path / "out", PrepareConfig(pii="off"), tokenizer=tokenizer)
