from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tailorai.data.readers.emails import read_emails, read_eml, read_mbox
from tailorai.errors import DataError
from tailorai.records import Conversation, Quarantined

FIXTURES = Path(__file__).parent / "fixtures" / "emails"
EMPTY_BODY = "email has no text after removing quotes and signatures"


def conversations(records: object) -> list[Conversation]:
    return [r for r in records if isinstance(r, Conversation)]  # type: ignore[attr-defined]


def quarantined(records: object) -> list[Quarantined]:
    return [r for r in records if isinstance(r, Quarantined)]  # type: ignore[attr-defined]


def write_eml(path: Path, body: str, headers: str | None = None) -> Path:
    default = (
        "From: Ann Lee <ann@example.com>\nTo: support@shop.example\nSubject: Hi\n"
        "Date: Mon, 03 Jun 2024 09:00:00 +0000\nMessage-ID: <one@example.com>\n"
    )
    path.write_text((headers if headers is not None else default) + "\n" + body)
    return path


def expected_user_id(address: str) -> str:
    return "email-" + hashlib.sha1(address.lower().encode()).hexdigest()[:12]


def test_mbox_thread_is_one_conversation_with_user_assistant_turns_in_order() -> None:
    records = list(read_mbox(FIXTURES / "support_thread.mbox"))

    assert quarantined(records) == []
    [conv] = conversations(records)
    assert conv.id == "q1.jane@example.com"
    assert [m.role for m in conv.messages] == ["user", "assistant", "user"]
    assert (conv.source, conv.line) == (str(FIXTURES / "support_thread.mbox"), 1)
    assert [m.timestamp for m in conv.messages] == [
        datetime(2024, 6, 3, 7, 0, tzinfo=UTC),
        datetime(2024, 6, 3, 9, 30, tzinfo=UTC),
        datetime(2024, 6, 4, 6, 15, tzinfo=UTC),
    ]
    assert all(m.timestamp is not None and m.timestamp.tzinfo for m in conv.messages)
    assert conv.meta["subject"] == "Order 1042 arrived damaged"
    assert conv.meta["channel"] == "email"


def test_quotes_and_signatures_are_stripped_and_real_text_kept() -> None:
    [conv] = conversations(read_mbox(FIXTURES / "support_thread.mbox"))

    question, reply, follow_up = (m.content for m in conv.messages)
    assert question == (
        "Hello,\n\nmy order 1042 arrived today and the lamp shade is cracked.\n"
        "Can you send a replacement?\n\nJane"
    )
    # The mboxrd-escaped ">From now on" is real text, not a quote.
    assert reply == (
        "Hi Jane,\n\nsorry about that! A new shade is on its way and should arrive Thursday.\n"
        "From now on we pack shades in double boxes.\n\nBest,\nSam from Shop Support"
    )
    assert follow_up == "Great, thank you. Do I need to send the broken one back?"
    text = conv.text
    for gone in ("Berlin", "Shop Example GmbH", "wrote:", ">", "Sent from my iPhone"):
        assert gone not in text


def test_known_pii_is_filled_and_user_id_is_a_hash_of_the_customer_address() -> None:
    [conv] = conversations(read_mbox(FIXTURES / "support_thread.mbox"))

    assert conv.user_id == expected_user_id("jane.doe@example.com")
    assert "jane" not in conv.user_id.lower()
    assert conv.meta["known_pii"] == {
        "PERSON": ["Jane Doe"],
        "EMAIL_ADDRESS": ["jane.doe@example.com"],
    }


def test_html_only_email_becomes_plain_text() -> None:
    [conv] = conversations(read_eml(FIXTURES / "html_only.eml"))

    assert conv.messages[0].content == (
        "Hello team,\n\nIs the Café chair & table set available in size L?\n"
        "It says <out of stock> online.\n\nThanks,\nRenée"
    )
    for gone in ("<p>", "<b>", "&amp;", "&eacute;", "trackOpen", "color: red", "ignored title"):
        assert gone not in conv.text
    assert conv.meta["known_pii"]["PERSON"] == ["Renée Martin"]


def test_eml_files_are_threaded_across_files_and_ordered_by_date() -> None:
    # The reply is read first: order must come from the Date headers, not the argument order.
    paths = [FIXTURES / "thread_answer.eml", FIXTURES / "thread_question.eml"]
    records = list(read_emails(paths, our_addresses=["help@shop.example"]))

    [conv] = conversations(records)
    assert conv.id == "ask77@example.net"
    assert [m.role for m in conv.messages] == ["user", "assistant"]
    assert conv.messages[0].content.startswith("Hi, I returned order 77")
    # The Outlook "From: ... Sent: ..." block and the quoted question below it are gone.
    assert conv.messages[1].content == (
        "Hello Omar,\n\nthe refund was issued today; it takes 3-5 business days to show up.\n\n"
        "Kind regards,\nHelp Desk"
    )
    assert (conv.source, conv.line) == (str(FIXTURES / "thread_question.eml"), 1)
    assert conv.user_id == expected_user_id("omar@example.net")


def test_multipart_alternative_prefers_the_plain_text_part() -> None:
    [conv] = conversations(read_eml(FIXTURES / "campaign_alternative.eml"))

    assert conv.messages[0].content == (
        "Hi Lena, our spring collection is here (plain text version)."
    )


@pytest.mark.parametrize("ours", [["news@shop.example"], ["NEWS@Shop.Example"], ["@shop.example"]])
def test_outbound_email_from_our_address_makes_the_recipient_the_customer(ours: list[str]) -> None:
    [conv] = conversations(read_eml(FIXTURES / "campaign_alternative.eml", our_addresses=ours))

    assert [m.role for m in conv.messages] == ["assistant"]
    assert conv.user_id == expected_user_id("lena@example.com")
    assert conv.meta["known_pii"] == {
        "PERSON": ["Lena Kraus"],
        "EMAIL_ADDRESS": ["lena@example.com"],
    }


def test_without_our_addresses_the_first_sender_is_the_customer() -> None:
    [conv] = conversations(read_eml(FIXTURES / "campaign_alternative.eml"))

    assert [m.role for m in conv.messages] == ["user"]
    assert conv.user_id == expected_user_id("news@shop.example")


def test_garbled_messages_are_quarantined_with_their_lines_and_good_ones_survive() -> None:
    path = FIXTURES / "garbled.mbox"
    records = list(read_mbox(path))

    bad = quarantined(records)
    assert [(q.source, q.line) for q in bad] == [(str(path), 10), (str(path), 14), (str(path), 22)]
    assert bad[0].error.startswith("not an email")
    assert "could not be decoded" in bad[1].error and "x-no-such-charset" in bad[1].error
    assert bad[2].error == EMPTY_BODY
    assert bad[1].raw.startswith("From: billing@shop.example\n")
    assert all("\n" not in q.error for q in bad)
    # The quote-only reply is quarantined but still links the thread; the real reply survives
    # (its "-----Original Message-----" block stripped).
    [conv] = conversations(records)
    assert conv.id == "c1@example.com"
    assert [(m.role, m.content) for m in conv.messages] == [
        ("user", "I ordered the blue mug but got a green one."),
        ("assistant", "We will swap it, a blue mug ships today."),
    ]


def test_a_file_that_is_not_an_email_is_quarantined_with_its_raw_text_truncated(
    tmp_path: Path,
) -> None:
    path = tmp_path / "notes.eml"
    path.write_text("just some notes, no headers here\n" * 200)

    [bad] = list(read_eml(path))

    assert isinstance(bad, Quarantined)
    assert (bad.source, bad.line) == (str(path), 1)
    assert len(bad.raw) == 2000
    assert bad.raw.startswith("just some notes")


@pytest.mark.parametrize(
    ("body", "kept"),
    [
        ("Thanks!\n\n-- \nAnn Lee\nCEO, Lee Ltd", "Thanks!"),
        ("Thanks!\n\n--\nAnn Lee", "Thanks!"),
        ("Thanks!\n\nSent from my iPhone", "Thanks!"),
        ("Thanks!\n\nOn Mon, 3 Jun 2024, Support <s@shop.example> wrote:\n> Old text", "Thanks!"),
        ("Thanks!\n\n-----Original Message-----\nFrom: Support\nOld text", "Thanks!"),
        ("Yes.\n> Do you want it?\nPlease send it.", "Yes.\nPlease send it."),
        # No quote and no signature: every line stays, even ones that look a little like them.
        (
            "On Monday I ordered two mugs.\nFrom: my old address, sadly.\n--> see order 5\n"
            "I wrote: 'urgent' on the box.",
            "On Monday I ordered two mugs.\nFrom: my old address, sadly.\n--> see order 5\n"
            "I wrote: 'urgent' on the box.",
        ),
    ],
)
def test_body_stripping(tmp_path: Path, body: str, kept: str) -> None:
    [conv] = conversations(read_eml(write_eml(tmp_path / "m.eml", body)))

    assert conv.messages[0].content == kept


def test_quote_only_eml_is_quarantined_as_empty(tmp_path: Path) -> None:
    path = write_eml(tmp_path / "m.eml", "> only the old text\n\n-- \nAnn")

    [bad] = list(read_eml(path))

    assert isinstance(bad, Quarantined)
    assert bad.error == EMPTY_BODY


def test_missing_message_id_and_date_give_a_stable_id_and_no_timestamp(tmp_path: Path) -> None:
    path = write_eml(tmp_path / "m.eml", "Where is my parcel?", "From: ann@example.com\n")

    [first] = conversations(read_eml(path))
    [again] = conversations(read_eml(path))

    assert first.id == again.id
    assert first.id.startswith("email-")
    assert first.messages[0].timestamp is None


def test_from_line_inside_a_body_does_not_split_the_mbox(tmp_path: Path) -> None:
    mbox = tmp_path / "box.mbox"
    mbox.write_text(
        "From x\nFrom: ann@example.com\nMessage-ID: <a@x>\n\nI am away.\n"
        "From Monday my colleague helps you.\n"
    )

    records = list(read_mbox(mbox))

    assert quarantined(records) == []
    [conv] = conversations(records)
    assert conv.messages[0].content == "I am away.\nFrom Monday my colleague helps you."


def test_threading_by_references_and_same_role_turns_kept_separate(tmp_path: Path) -> None:
    ann = "From: Ann Lee <ann@example.com>\nTo: support@shop.example\n"
    mbox = tmp_path / "box.mbox"
    mbox.write_text(
        f"From x\n{ann}Message-ID: <root@x>\n\nFirst question.\n\n"
        # Parent <lost@x> is missing, but References names the known root: same thread.
        f"From x\n{ann}Message-ID: <more@x>\nIn-Reply-To: <lost@x>\n"
        "References: <root@x> <lost@x>\n\nAnd one more thing.\n\n"
        # Parent missing and no known root: a thread of its own.
        f"From x\n{ann}Message-ID: <orphan@x>\nIn-Reply-To: <gone@x>\n\nSeparate topic.\n"
    )

    convs = conversations(read_mbox(mbox))

    assert [c.id for c in convs] == ["root@x", "orphan@x"]
    assert [(m.role, m.content) for m in convs[0].messages] == [
        ("user", "First question."),
        ("user", "And one more thing."),
    ]
    assert [c.line for c in convs] == [1, 17]


@pytest.mark.parametrize(
    "read",
    [read_eml, read_mbox, lambda path: read_emails([path])],
    ids=["eml", "mbox", "emails"],
)
def test_missing_file_raises_data_error_at_the_call(
    tmp_path: Path, read: Callable[[Path], object]
) -> None:
    missing = tmp_path / "nope.mbox"

    with pytest.raises(DataError, match=r"nope\.mbox"):
        read(missing)  # no iteration: the error must not wait for the first record
