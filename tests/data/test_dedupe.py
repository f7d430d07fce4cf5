from __future__ import annotations

import pytest

from tailorai.data.exact_dedupe import ExactDedupe
from tailorai.data.near_duplicates import NearDedupe, jaccard, shingles
from tailorai.errors import ConfigError
from tailorai.records import Conversation
from tests.data.helpers import conv


def test_exact_dedupe_ignores_case_punctuation_and_spacing():
    step = ExactDedupe()
    records = [
        conv("Where is my order?", "It ships today.", id="a"),
        conv("where is my ORDER", "it ships   today", id="b"),
        conv("Where is my parcel?", "It ships today.", id="c"),
    ]
    assert [r.id for r in step.run(records)] == ["a", "c"]
    assert step.dropped == {"exact_duplicate": 1}


def test_near_dedupe_drops_small_edits_and_keeps_different_texts():
    base = (
        "I ordered the blue running shoes in size 42 last Monday and they still have not "
        "arrived, could you check where the parcel is and when it will be delivered?"
    )
    edited = base.replace("last Monday", "last Tuesday")
    other = "Can I change the delivery address of my order to my office in the city centre?"
    records = [conv(base, "ok", id="a"), conv(edited, "ok", id="b"), conv(other, "ok", id="c")]
    assert jaccard(shingles(base), shingles(edited)) >= 0.8
    step = NearDedupe(threshold=0.8)
    assert [r.id for r in step.run(records)] == ["a", "c"]
    assert step.dropped == {"near_duplicate": 1}


def test_near_dedupe_threshold_is_respected():
    a = "the quick brown fox jumps over the lazy dog near the river bank today"
    b = "the quick brown fox jumps over the lazy cat near the river bank today"
    similarity = jaccard(shingles(a), shingles(b))
    strict = NearDedupe(threshold=min(1.0, similarity + 0.05))
    loose = NearDedupe(threshold=max(0.05, similarity - 0.2))  # far enough for LSH to see it
    records = lambda: [conv(a, id="a"), conv(b, id="b")]  # noqa: E731
    assert len(list(strict.run(records()))) == 2
    assert len(list(loose.run(records()))) == 1


def test_near_dedupe_on_shipped_support_data_finds_templated_requests(samples):
    from tailorai.data.readers import read_inputs

    path = samples / "Bitext_Sample_Customer_Support_Training_Dataset_4514.csv"
    prompts = [
        Conversation(r.id, None, r.messages[:1], r.source, r.line) for r in read_inputs([path])
    ][:1500]
    step = NearDedupe()
    rejected = []
    step.reject_sink = lambda record, step_name, reason: rejected.append(record)
    kept = list(step.run(prompts))
    assert 0 < step.dropped["near_duplicate"] == len(rejected) < len(prompts) // 4
    # LSH only proposes: every drop was confirmed on real shingles against a kept record.
    kept_sets = [shingles(r.text) for r in kept]
    for record in rejected[:50]:
        grams = shingles(record.text)
        assert max(jaccard(grams, k) for k in kept_sets) >= 0.8


def test_bad_threshold():
    with pytest.raises(ConfigError, match=r"'threshold' parameter of NearDedupe"):
        NearDedupe(threshold=0)
