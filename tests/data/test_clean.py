from __future__ import annotations

import pytest

from tailorai.data.clean import Clean
from tests.data.helpers import conv


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("CafÃ© au lait", "Café au lait"),  # mojibake
        ("Fish &amp; chips &lt;3", "Fish & chips <3"),  # HTML entities
        ("<p>Hello <b>there</b></p><p>Bye</p><script>track()</script>", "Hello there\nBye"),
        ("zero\u200bwidth\ufeff here", "zerowidth here"),
        ("family 👨\u200d👩\u200d👧 stays", "family 👨\u200d👩\u200d👧 stays"),
        ("great 😀 thanks", "great 😀 thanks"),
        ("a   lot\tof \u00a0 space  ", "a lot of space"),
        ("one\r\n\r\n\r\n\r\ntwo", "one\n\ntwo"),
        ("e\u0301cole", "école"),  # NFC
        ("1 < 2 and 3 > 2", "1 < 2 and 3 > 2"),  # not HTML: left alone
    ],
)
def test_transform(raw, clean):
    assert Clean().transform(raw) == clean


def test_records_left_empty_are_dropped_and_counted():
    step = Clean()
    records = [conv("\u200b ", "<p></p>"), conv("hi", "hello")]
    kept = list(step.run(records))
    assert len(kept) == 1
    assert step.dropped == {"empty": 1}


def test_changing_text_clears_sentences():
    record = conv("Fish &amp; chips", "ok")
    record.messages[0].sentences = ["stale"]
    record.messages[1].sentences = ["ok"]
    [out] = Clean().run([record])
    assert out.messages[0].sentences is None
    assert out.messages[1].sentences == ["ok"]
