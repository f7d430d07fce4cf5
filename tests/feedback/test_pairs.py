"""Feedback as training data: DPO preference pairs, and corrections the data pipeline reads."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from tailorai.data import PrepareConfig, prepare, read_inputs
from tailorai.feedback import FeedbackLog
from tailorai.feedback.pairs import (
    correction_examples,
    export_corrections,
    export_preferences,
    preference_pairs,
)
from tailorai.generation.generation_log import GenerationLog
from tailorai.projects import ensure_project
from tailorai.records import Conversation, Generation
from tailorai.store import Store

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
SOCKS = [
    {"role": "system", "content": "You write for Tailor Socks. Readers: collectors."},
    {"role": "user", "content": "Describe: merino hiking socks — «naïve» café edition"},
]
FAQ = [{"role": "user", "content": "How do returns work?"}]


def _generation(gid, minute, output, prompt, *, task="product_description", user="u1", **extra):
    return Generation(
        id=gid,
        project_id="shop",
        task=task,
        rung="zero_shot",
        output=output,
        backend="LocalBackend",
        user_id=user,
        segment="collectors",
        prompt=prompt,
        created_at=T0 + timedelta(minutes=minute),
        **extra,
    )


@pytest.fixture
def store(store_url):
    store = Store(store_url)
    ensure_project(store, "shop")
    GenerationLog(store).add_many(
        [
            _generation("liked", 0, "Soft merino socks that stay dry.", SOCKS),
            _generation("starred", 1, "Warm socks for long walks.", SOCKS, user="u2"),
            _generation("hated", 2, "Socks.", SOCKS),
            _generation("copy", 3, "Soft merino socks that stay dry. ", SOCKS),  # = liked's
            _generation("mixed", 4, "Socks, socks, socks.", SOCKS),
            _generation("other_prompt", 5, "Bad answer.", FAQ, task="faq"),
            _generation("other_task", 6, "Meh.", SOCKS, task="email"),
            _generation("fixed", 7, "Returns: see website.", FAQ, task="faq"),
            _generation("no_prompt", 8, "Returns are free.", [], task="faq"),
            _generation("same", 9, "Returns are free for 30 days.", FAQ, task="faq"),
        ]
    )
    log = FeedbackLog(store)
    at = {"at": T0 + timedelta(hours=1)}
    log.add("shop", "liked", thumbs="up", **at)
    log.add("shop", "starred", rating=5, **at)
    log.add("shop", "hated", thumbs="down", **at)
    log.add("shop", "copy", rating=1, **at)
    log.add("shop", "mixed", thumbs="up", rating=1, **at)  # takes no side
    log.add("shop", "other_prompt", thumbs="down", **at)
    log.add("shop", "other_task", thumbs="down", **at)
    log.add("shop", "fixed", correction="Returns are free within 30 days — naïve café rules.", **at)
    again = {"at": T0 + timedelta(hours=3)}  # the same correction, sent again later
    log.add(
        "shop", "fixed", correction="Returns are free within 30 days — naïve café rules.", **again
    )
    log.add("shop", "no_prompt", correction="Returns are free within 30 days.", **at)
    log.add("shop", "same", correction="Returns are free for 30 days.", **at)  # nothing changed
    yield store
    store.close()


def test_pairs_from_corrections_and_from_thumbs_on_one_prompt(store):
    pairs = preference_pairs(store, "shop")
    corrected, *thumbs = pairs
    assert corrected == {
        "prompt": FAQ,
        "chosen": "Returns are free within 30 days — naïve café rules.",
        "rejected": "Returns: see website.",
        "user_id": "u1",
        "segment": "collectors",
        "source": "correction",
        "generation_ids": ["fixed"],
    }  # once, though it was sent twice
    assert [(p["generation_ids"], p["source"]) for p in thumbs] == [
        (["liked", "hated"], "thumbs"),
        (["starred", "hated"], "thumbs"),
        (["starred", "copy"], "thumbs"),  # liked vs copy: the same text, no pair
    ]
    assert all(p["prompt"] == SOCKS for p in thumbs)  # exactly the messages the model read
    assert all(p["chosen"].strip() != p["rejected"].strip() for p in pairs)
    assert thumbs[0]["user_id"] == "u1" and thumbs[1]["user_id"] is None  # u2's vs u1's
    assert {p["segment"] for p in pairs} == {"collectors"}
    later = preference_pairs(store, "shop", since=T0 + timedelta(hours=2))
    assert [p["generation_ids"] for p in later] == [["fixed"]]  # the retried correction only


def test_a_popular_prompt_gives_capped_pairs_over_many_outputs(store, monkeypatch, tmp_path):
    from tailorai.feedback import pairs as pairs_module

    monkeypatch.setattr(pairs_module, "MAX_PAIRS_PER_PROMPT", 2)
    thumbs = [p for p in preference_pairs(store, "shop") if p["source"] == "thumbs"]
    assert [p["generation_ids"] for p in thumbs] == [["liked", "hated"], ["starred", "hated"]]
    report = export_preferences(store, "shop", tmp_path)
    assert report["skipped"]["over_prompt_cap"] == 1  # starred vs copy, never looked at


def test_export_preferences_writes_what_dpo_reads(store, tmp_path):
    # Without the anonymizer (its work is the next test's), the file is the pairs, exactly.
    report = export_preferences(store, "shop", tmp_path / "feedback", anonymizer=None)
    path = tmp_path / "feedback" / "preferences.jsonl"
    assert report == {
        "path": str(path),
        "pairs": 4,
        "sources": {"correction": 1, "thumbs": 3},
        "skipped": {"same_text": 2, "unusable_prompt": 1},
    }
    raw = path.read_text(encoding="utf-8")
    assert "naïve café" in raw and [json.loads(line) for line in raw.splitlines()] == (
        preference_pairs(store, "shop")
    )
    preferences = pytest.importorskip("tailorai.training.preferences")
    loaded = preferences.load_preferences(tmp_path / "feedback")
    assert len(loaded.pairs) == 4 and loaded.skipped == []
    assert loaded.groups() == ["collectors"]


def test_exported_corrections_are_read_by_data_prepare(store, tmp_path, tokenizer):
    examples = correction_examples(store, "shop")
    assert examples == [
        {
            "conversation_id": examples[0]["conversation_id"],
            "user_id": "u1",
            "messages": [
                *FAQ,
                {
                    "role": "assistant",
                    "content": "Returns are free within 30 days — naïve café rules.",
                },
            ],
            "segment": "collectors",
            "generation_id": "fixed",
            "source": "correction",
        },
        {
            "conversation_id": examples[1]["conversation_id"],
            "user_id": "u1",
            "messages": [*FAQ, {"role": "assistant", "content": "Returns are free for 30 days."}],
            "segment": "collectors",
            "generation_id": "same",
            "source": "correction",
        },
    ]  # `no_prompt` has no messages to put before the correction
    out = tmp_path / "corrections.jsonl"
    assert export_corrections(store, "shop", out)["examples"] == 2
    read = list(read_inputs([out]))
    assert all(isinstance(r, Conversation) for r in read)
    assert [r.messages[-1].content for r in read] == [
        e["messages"][-1]["content"] for e in examples
    ]
    report = prepare([out], tmp_path / "dataset", PrepareConfig(), tokenizer=tokenizer)
    assert report["records_in"] == 2 and report["records_quarantined"] == 0, report
    assert report["records_kept"] == 2 and sum(report["examples"].values()) == 2
    written = [
        json.loads(line)
        for name in ("train.jsonl", "validation.jsonl")
        for line in (tmp_path / "dataset" / name).read_text(encoding="utf-8").splitlines()
    ]
    assert written and all(e["user_id"] == "u1" for e in written)
    assert written[0]["messages"][-1]["role"] == "assistant"
    later = export_corrections(store, "shop", out, since=T0 + timedelta(days=365))
    assert later == {"path": str(out), "examples": 0, "skipped": {}}
    assert out.read_text(encoding="utf-8") == ""


def test_exported_pairs_hold_no_personal_data(store, tmp_path):
    log = FeedbackLog(store)
    log.add(
        "shop",
        "fixed",
        correction="Write to jane.doe@example.com or call 415-555-0132 about the refund.",
    )
    report = export_preferences(store, "shop", tmp_path)
    raw = (tmp_path / "preferences.jsonl").read_text(encoding="utf-8")
    assert "jane.doe@example.com" not in raw and "415-555-0132" not in raw
    assert "<EMAIL_ADDRESS>" in raw and "<PHONE_NUMBER>" in raw
    assert report["pairs"] == len(preference_pairs(store, "shop"))  # none lost on the way
