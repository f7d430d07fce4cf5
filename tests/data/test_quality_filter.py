from __future__ import annotations

import pytest

from tailorai.data.quality_filter import QualityFilter
from tailorai.data.sentences import Sentences
from tailorai.errors import ConfigError
from tailorai.records import Conversation, Message
from tests.data.helpers import conv


def _run(step, record):
    [record] = list(Sentences().run([record]))
    return list(step.run([record])), step.dropped


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        (Conversation("c", "u", [Message("user", "hello?")], "t", 1), "no_assistant_turn"),
        (conv("a", "b"), "too_short"),
        (conv("x" * 60, "y" * 60), "too_long"),
        (conv("Sent from my iPhone", "I am out of the office until Monday."), "boilerplate"),
        (conv("Tell me", "Buy now. Buy now. Buy now. Buy now. Great deal."), "repetitive"),
        (conv("Your code?", "%%%% #### 1234 $$$$ !!!!"), "symbols"),
        (conv("Rate this", "It was fine.", rating=1.0), "low_rating"),
    ],
)
def test_each_reason(record, reason):
    step = QualityFilter(min_chars=5, max_chars=100, min_rating=3)
    kept, dropped = _run(step, record)
    assert kept == []
    assert dropped == {reason: 1}


def test_good_records_pass():
    step = QualityFilter(min_rating=3)
    kept, dropped = _run(step, conv("Where is my order?", "It ships today.", rating=4.0))
    assert len(kept) == 1 and not dropped


def test_rating_is_ignored_unless_configured():
    kept, _ = _run(QualityFilter(), conv("Rate this", "It was fine.", rating=1.0))
    assert len(kept) == 1


def test_bad_parameters():
    with pytest.raises(ConfigError, match="min_chars"):
        QualityFilter(min_chars=10, max_chars=5)
    with pytest.raises(ConfigError, match="'max_repetition' parameter of QualityFilter"):
        QualityFilter(max_repetition=2)
