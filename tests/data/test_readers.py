from __future__ import annotations

import json

import pytest

from tailorai.data.readers import detect_format, parse_columns, read_inputs
from tailorai.data.readers.chat_jsonl import read_chat_jsonl
from tailorai.data.readers.feedback_csv import read_feedback_csv
from tailorai.errors import ConfigError, DataError
from tailorai.records import Conversation, Quarantined


def _split(items):
    records = [i for i in items if isinstance(i, Conversation)]
    quarantined = [i for i in items if isinstance(i, Quarantined)]
    return records, quarantined


def _jsonl(path, rows):
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n")
    return path


def test_chat_jsonl_one_conversation_per_line(tmp_path):
    path = _jsonl(
        tmp_path / "c.jsonl",
        [
            {
                "user_id": "u1",
                "conversation_id": "c1",
                "user_name": "Ann Lee",
                "messages": [
                    {"role": "customer", "content": "Hi", "timestamp": "2024-05-01T10:00:00Z"},
                    {"role": "agent", "content": "Hello!", "timestamp": 1714557660},
                ],
            }
        ],
    )
    [record] = list(read_chat_jsonl(path))
    assert record.id == "c1" and record.user_id == "u1"
    assert [(m.role, m.content) for m in record.messages] == [
        ("user", "Hi"),
        ("assistant", "Hello!"),
    ]
    assert record.messages[1].timestamp.year == 2024
    assert record.meta["known_pii"] == {"PERSON": ["Ann Lee"]}
    assert (record.source, record.line) == (str(path), 1)


def test_chat_jsonl_message_per_line_is_grouped_and_ordered_by_time(tmp_path):
    path = _jsonl(
        tmp_path / "m.jsonl",
        [
            {
                "user_id": "u1",
                "conversation_id": "a",
                "role": "assistant",
                "content": "second",
                "timestamp": "2024-05-01T10:01:00Z",
            },
            {"user_id": "u2", "conversation_id": "b", "role": "user", "content": "other"},
            {
                "user_id": "u1",
                "conversation_id": "a",
                "role": "user",
                "content": "first",
                "timestamp": "2024-05-01T10:00:00Z",
                "user_email": "x@y.com",
            },
        ],
    )
    records = {r.id: r for r in read_chat_jsonl(path)}
    assert [m.content for m in records["a"].messages] == ["first", "second"]
    assert records["a"].line == 1
    assert records["a"].meta["known_pii"] == {"EMAIL_ADDRESS": ["x@y.com"]}
    assert records["b"].user_id == "u2"


@pytest.mark.parametrize(
    ("line", "error"),
    [
        ("{not json", "Expecting property name"),
        ("[1, 2]", "expected a JSON object"),
        ('{"conversation_id": "c", "role": "robot", "content": "x"}', "unknown role 'robot'"),
        ('{"conversation_id": "c", "role": "user", "content": 5}', "content must be text"),
        ('{"messages": []}', "non-empty list"),
        ('{"user_id": "u"}', "needs either 'messages'"),
        (
            '{"messages": [{"role": "user", "content": "x", "timestamp": "yesterday"}]}',
            "not ISO 8601",
        ),
    ],
)
def test_bad_chat_lines_are_quarantined_with_file_and_line(tmp_path, line, error):
    good = {"messages": [{"role": "user", "content": "ok"}, {"role": "assistant", "content": "k"}]}
    path = _jsonl(tmp_path / "bad.jsonl", [good, line, good])
    records, quarantined = _split(list(read_chat_jsonl(path)))
    assert len(records) == 2
    [q] = quarantined
    assert q.line == 2 and q.source == str(path)
    assert error in q.error and "bad.jsonl line 2" in q.error
    assert q.raw.strip() == line


def test_feedback_csv_default_columns(samples):
    records, quarantined = _split(list(read_feedback_csv(samples / "feedback_form.csv")))
    assert len(records) == 3
    first = records[0]
    assert first.user_id == "u-1001"
    assert [m.role for m in first.messages] == ["user", "assistant"]
    assert first.meta == {"rating": 5.0, "comment": "lovely"}
    errors = sorted((q.line, q.error) for q in quarantined)
    assert errors[0][0] == 5 and "rating 'not-a-number' is not a number" in errors[0][1]
    assert errors[1][0] == 6 and "8 fields, the header has 6" in errors[1][1]


def test_feedback_csv_columns_are_mappable(tmp_path):
    path = tmp_path / "survey.csv"
    path.write_text('who,question,answer,stars\nu9,"Hi, there",Hello,4\n')
    columns = parse_columns("user_id=who,prompt=question,response=answer,rating=stars")
    [record] = list(read_feedback_csv(path, columns))
    assert record.user_id == "u9"
    assert record.messages[0].content == "Hi, there"
    assert record.meta["rating"] == 4.0


def test_feedback_csv_without_the_needed_columns_says_how_to_map_them(tmp_path):
    path = tmp_path / "survey.csv"
    path.write_text("question,answer\nq,a\n")
    with pytest.raises(DataError, match="--columns"):
        list(read_feedback_csv(path))


@pytest.mark.parametrize("spec", ["prompt", "prompt=", "nosuch=x"])
def test_bad_column_specs_are_config_errors(spec):
    with pytest.raises(ConfigError):
        parse_columns(spec)


def test_shipped_samples_read_completely(samples):
    counts = {}
    for name, expected_format in [
        ("Bitext_Sample_Customer_Support_Training_Dataset_4514.csv", "support-csv"),
        ("Synthetic-Persona-Chat_valid.csv", "persona-csv"),
        ("SMSSpamCollection", "sms"),
    ]:
        path = samples / name
        assert detect_format(path) == expected_format
        records, quarantined = _split(list(read_inputs([path])))
        assert not quarantined
        counts[expected_format] = records
    support = counts["support-csv"]
    assert len(support) == 4514
    assert support[0].meta["intent"] == "cancel_order"
    persona = counts["persona-csv"]
    assert len(persona) == 1000
    first = persona[0]
    assert first.messages[0].role == "user" and first.messages[1].role == "assistant"
    assert first.user_id.startswith("persona-")
    assert "I love to bake cookies." in first.meta["user_persona"]
    sms = counts["sms"]
    assert len(sms) == 5574
    assert sum(r.meta["label"] == "spam" for r in sms) == 747
    assert sms[0].messages[1].content.startswith("Go until jurong point")


def test_folders_are_read_recursively_and_unknown_files_quarantined(tmp_path, samples):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "chat.jsonl").write_text(
        (samples / "support_chats.jsonl").read_text(encoding="utf-8"), encoding="utf-8"
    )
    (tmp_path / "notes.bin").write_bytes(b"\x00\x01")
    records, quarantined = _split(list(read_inputs([tmp_path])))
    assert len(records) == 5  # c-5 is broken on purpose
    assert any("unknown file format" in q.error for q in quarantined)
    assert any("'messages' must be a non-empty list" in q.error for q in quarantined)


def test_missing_input_is_one_clear_error(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        list(read_inputs([tmp_path / "missing.jsonl"]))


def test_a_named_file_of_unknown_format_asks_for_format(tmp_path):
    path = tmp_path / "data.bin"
    path.write_text("what is this")
    with pytest.raises(DataError, match="--format"):
        list(read_inputs([path]))
    with pytest.raises(ConfigError, match="Unknown --format"):
        list(read_inputs([path], format="xml"))
