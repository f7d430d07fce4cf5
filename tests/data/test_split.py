from __future__ import annotations

import pytest

from tailorai.data.split import split_examples
from tailorai.errors import ConfigError
from tailorai.records import Example, Message


def _examples(n_users=20, per_user=3):
    return [
        Example(
            f"c{u}-{i}#1",
            f"u{u}",
            f"c{u}-{i}",
            [Message("user", "q"), Message("assistant", "a")],
            "t",
        )
        for u in range(n_users)
        for i in range(per_user)
    ]


def test_split_by_user_never_puts_a_user_on_both_sides():
    train, validation = split_examples(_examples(), by="user", validation_fraction=0.2, seed=1)
    assert {e.user_id for e in train}.isdisjoint({e.user_id for e in validation})
    assert len({e.user_id for e in validation}) == 4
    assert len(train) + len(validation) == 60


def test_split_by_conversation_spreads_a_users_conversations():
    examples = _examples(n_users=2, per_user=20)
    train, validation = split_examples(examples, by="conversation", validation_fraction=0.25)
    assert {e.conversation_id for e in train}.isdisjoint({e.conversation_id for e in validation})
    assert {e.user_id for e in train} & {e.user_id for e in validation}


def test_split_is_seeded_and_repeatable():
    a = split_examples(_examples(), seed=3)[1]
    b = split_examples(_examples(), seed=3)[1]
    c = split_examples(_examples(), seed=4)[1]
    assert [e.id for e in a] == [e.id for e in b]
    assert [e.id for e in a] != [e.id for e in c]


def test_examples_without_user_fall_back_to_conversations():
    examples = _examples(n_users=1, per_user=10)
    for e in examples:
        e.user_id = None
    _, validation = split_examples(examples, by="user", validation_fraction=0.2)
    assert len(validation) == 2


def test_bad_parameters():
    with pytest.raises(ConfigError, match="--split-by"):
        split_examples([], by="day")
    with pytest.raises(ConfigError, match="validation_fraction"):
        split_examples([], validation_fraction=1.0)
