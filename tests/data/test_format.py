from __future__ import annotations

import pytest

from tailorai.data.format import Format, TokenCounter
from tailorai.errors import ConfigError
from tailorai.records import Conversation, Message
from tailorai.training import render_chat
from tests.data.helpers import conv


def test_one_example_per_assistant_turn_with_context():
    record = conv("q1", "a1", "q2", "a2", "q3", "a3", id="c1", user_id="u1", intent="x")
    examples = Format(context_turns=2).examples(record)
    assert [e.id for e in examples] == ["c1#1", "c1#3", "c1#5"]
    assert [m.content for m in examples[0].messages] == ["q1", "a1"]
    assert [m.content for m in examples[2].messages] == ["q3", "a3"]  # 2 turns back: a2 skipped
    assert examples[2].messages[0].role == "user"
    big = Format(context_turns=6).examples(record)[2]
    assert [m.content for m in big.messages] == ["q1", "a1", "q2", "a2", "q3", "a3"]
    assert big.user_id == "u1" and big.as_dict()["meta"]["intent"] == "x"


def test_system_message_is_kept_and_runs_of_one_role_are_merged():
    record = Conversation(
        "c",
        "u",
        [
            Message("system", "Be brief."),
            Message("user", "Hi"),
            Message("user", "Are you there?"),
            Message("assistant", "Yes."),
        ],
        "t",
        1,
    )
    [example] = Format().examples(record)
    assert [(m.role, m.content) for m in example.messages] == [
        ("system", "Be brief."),
        ("user", "Hi\n\nAre you there?"),
        ("assistant", "Yes."),
    ]


def test_assistant_turn_without_a_prompt_makes_no_example():
    record = Conversation("c", "u", [Message("assistant", "Our sale starts today!")], "t", 1)
    step = Format()
    assert list(step.run([record])) == []
    assert step.records_dropped == {"no_prompt": 1}


def test_private_meta_never_reaches_the_example():
    record = conv("hi", "hello", known_pii={"PERSON": ["Ann"]}, rating=5)
    [example] = Format().examples(record)
    assert "known_pii" not in example.as_dict()["meta"]
    assert example.as_dict()["meta"]["rating"] == 5


def test_token_counts_match_the_rendered_chat_template(tokenizer):
    counter = TokenCounter(tokenizer)
    messages = [Message("user", "Where is my order?"), Message("assistant", "It ships today.")]
    rendered = render_chat(tokenizer, [m.as_dict() for m in messages])
    exact = len(tokenizer(rendered, add_special_tokens=False)["input_ids"])
    assert abs(sum(counter.messages(messages)) - exact) <= 2


def test_over_long_examples_lose_whole_old_turns_then_are_dropped(tokenizer):
    turns = ["first question " * 10, "first answer " * 10, "second question", "second answer"]
    record = conv(*turns, id="c")
    full = Format(tokenizer=tokenizer).examples(record)[1]
    limit = full.meta["tokens"] - 10  # too small for all four turns, enough for the last two
    step = Format(tokenizer=tokenizer, max_tokens=limit)
    examples = step.examples(record)
    last = examples[-1]
    assert [m.content for m in last.messages] == turns[2:]  # whole turns, never cut text
    assert last.meta["tokens"] <= limit
    assert step.truncated == 1
    tiny = Format(tokenizer=tokenizer, max_tokens=5)
    assert list(tiny.run([record])) == []
    assert tiny.records_dropped == {"too_many_tokens": 1}
    assert tiny.dropped["too_many_tokens"] == 2


def test_bad_parameters():
    with pytest.raises(ConfigError, match="context_turns"):
        Format(context_turns=-1)
    with pytest.raises(ConfigError, match="max_tokens"):
        Format(max_tokens=0)
