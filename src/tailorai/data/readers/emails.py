"""Read emails (.eml files and mbox mailboxes) into conversations, one per thread.

    for record in read_mbox(Path("support.mbox"), our_addresses=["@shop.example"]):
        ...  # a Conversation per thread, or a Quarantined message that could not be read

The customer who started a thread writes the "user" turns and everyone else (support) the
"assistant" turns. Quoted history and signatures are removed, so each turn holds only new text.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default as default_policy
from pathlib import Path

from selectolax.lexbor import LexborHTMLParser

from tailorai.errors import DataError
from tailorai.records import Conversation, Message, Quarantined

__all__ = ["read_emails", "read_eml", "read_mbox"]

EMPTY_BODY = "email has no text after removing quotes and signatures"
RAW_LIMIT = 2000

_PARSER = BytesParser(policy=default_policy)
_MESSAGE_ID = re.compile(r"<([^<>\s]+)>")
_ESCAPED_FROM = re.compile(rb"^>+From ")
# Where the quoted original starts in a top-posted reply; everything below it is history.
_ATTRIBUTION = re.compile(
    r"^(On|Am|Le|El)\s.{0,300}\b(wrote|schrieb|a écrit|escribió)\s?:$", re.IGNORECASE
)
_ORIGINAL_MESSAGE = re.compile(r"^-{3,}\s*Original Message\s*-{3,}$", re.IGNORECASE)
_OUTLOOK_HEADER = re.compile(r"^(Sent|Date):\s", re.IGNORECASE)
_SIGN_OFF = re.compile(
    r"^(Sent from my \w+|Sent from (Mail|Outlook|Yahoo Mail)\b|Get Outlook for \w+)", re.IGNORECASE
)
_RULE = re.compile(r"^[-_=*~\s]*$")  # separator lines left dangling after a cut
_HTML_BLOCKS = "p, div, li, tr, table, ul, ol, pre, h1, h2, h3, h4, h5, h6, hr"


class _Unreadable(Exception):
    """A message that cannot become a turn; its text is the quarantine reason."""


@dataclass(slots=True, eq=False)  # eq=False: mails are hashed by identity when threading
class _Mail:
    source: str
    line: int
    message_id: str | None
    ancestors: list[str]  # References oldest first, then In-Reply-To (the direct parent)
    sender: Address
    to: list[Address]
    subject: str
    date: datetime | None
    body: str  # "" when nothing was left; the mail still links its thread together


def read_eml(
    path: Path, *, our_addresses: Sequence[str] = ()
) -> Iterator[Conversation | Quarantined]:
    """Read one .eml file: one conversation, or one quarantined message."""
    return _read([(Path(path), False)], our_addresses)


def read_mbox(
    path: Path, *, our_addresses: Sequence[str] = ()
) -> Iterator[Conversation | Quarantined]:
    """Read an mbox mailbox: one conversation per thread, quarantined messages as they come."""
    return _read([(Path(path), True)], our_addresses)


def read_emails(
    paths: Sequence[Path], *, our_addresses: Sequence[str] = ()
) -> Iterator[Conversation | Quarantined]:
    """Read many .eml/.mbox files together, so threads split across files are rebuilt whole.

    A file that is neither .eml nor .mbox is read as an mbox when it starts with "From ".
    """
    suffix_kind = {".eml": False, ".mbox": True}
    return _read([(Path(p), suffix_kind.get(Path(p).suffix.lower())) for p in paths], our_addresses)


def _read(
    files: list[tuple[Path, bool | None]], our_addresses: Sequence[str]
) -> Iterator[Conversation | Quarantined]:
    # Checked before the generator starts, so a wrong path fails at the call, not at first use.
    for path, _ in files:
        if not path.is_file():
            what = "is a directory" if path.is_dir() else "does not exist"
            raise DataError(
                f"Email file {path} {what}. Pass the path of an .eml or .mbox file "
                "(export the mailbox from your mail client first)."
            )
    ours = (our_addresses,) if isinstance(our_addresses, str) else tuple(our_addresses)
    return _records(files, tuple(a.lower() for a in ours))


def _records(
    files: list[tuple[Path, bool | None]], ours: tuple[str, ...]
) -> Iterator[Conversation | Quarantined]:
    mails: list[_Mail] = []
    for path, as_mbox in files:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise DataError(f"Could not read email file {path}: {exc.strerror}.") from exc
        if as_mbox is None:
            as_mbox = data.startswith(b"From ")
        for line, raw in _mbox_chunks(data) if as_mbox else [(1, data)]:
            for item in _read_message(str(path), line, raw):
                if isinstance(item, Quarantined):
                    yield item
                else:
                    mails.append(item)
    for root, thread in _threads(mails).items():
        kept = [m for m in thread if m.body]
        if all(m.date for m in kept):
            kept.sort(key=lambda m: m.date)
        if kept:
            yield _conversation(root, kept, ours)


def _mbox_chunks(data: bytes) -> Iterator[tuple[int, bytes]]:
    """Yield (1-based line of the "From " line, message bytes) for each message of an mbox."""
    lines = data.splitlines(keepends=True)
    # A "From " line only starts a message after a blank line, so body text is never split.
    starts = [
        i
        for i, text in enumerate(lines)
        if text.startswith(b"From ") and (i == 0 or not lines[i - 1].strip())
    ]
    head = b"".join(lines[: starts[0] if starts else len(lines)])
    if head.strip():  # text before the first "From " line: a message or junk, but never dropped
        yield 1, head
    for start, end in zip(starts, [*starts[1:], len(lines)], strict=True):
        # Unescape ">From " (mboxrd), or the quote stripper would take it for quoted text.
        body = [text[1:] if _ESCAPED_FROM.match(text) else text for text in lines[start + 1 : end]]
        yield start + 1, b"".join(body)


def _read_message(source: str, line: int, raw: bytes) -> Iterator[_Mail | Quarantined]:
    preview = raw.decode("utf-8", errors="replace")[:RAW_LIMIT]
    try:
        mail = _parse(_PARSER.parsebytes(raw), source, line)
    except _Unreadable as exc:
        yield Quarantined(source, line, str(exc), preview)
    except Exception as exc:  # the email package can raise almost anything on garbled input
        yield Quarantined(source, line, f"email could not be parsed ({exc!r})", preview)
    else:
        if not mail.body:
            yield Quarantined(source, line, EMPTY_BODY, preview)
        yield mail


def _parse(msg: EmailMessage, source: str, line: int) -> _Mail:
    if not msg.keys():
        raise _Unreadable("not an email: no header lines (From:, Subject:, ...) at the top")
    if msg["From"] is None:
        raise _Unreadable("email has no From header, so its writer is unknown")
    senders = _addresses(msg, "From")
    if not senders:
        raise _Unreadable(f"From header has no valid address: {str(msg['From'])[:100]!r}")
    part = msg.get_body(preferencelist=("plain", "html"))
    if part is None:
        raise _Unreadable(f"email has no text/plain or text/html part ({msg.get_content_type()})")
    try:
        text = part.get_content()
    except (LookupError, ValueError) as exc:
        raise _Unreadable(f"{part.get_content_type()} body could not be decoded ({exc})") from exc
    if "\x00" in text or text.count("\ufffd") > len(text) / 10:
        raise _Unreadable(f"{part.get_content_type()} body is binary data, not text")
    if part.get_content_type() == "text/html":
        text = _html_to_text(text)
    date = getattr(msg["Date"], "datetime", None)
    if date is not None and date.tzinfo is None:
        date = date.replace(tzinfo=UTC)  # RFC 5322 "-0000": UTC, local zone unknown
    references = _message_ids(msg["References"])
    parents = [i for i in _message_ids(msg["In-Reply-To"]) if i not in references]
    own_id = _message_ids(msg["Message-ID"])
    return _Mail(
        source=source,
        line=line,
        message_id=own_id[0] if own_id else None,
        ancestors=references + parents,
        sender=senders[0],
        to=_addresses(msg, "To"),
        subject=str(msg["Subject"] or "").strip(),
        date=date,
        body=_strip_quotes_and_signature(text),
    )


def _addresses(msg: EmailMessage, header: str) -> list[Address]:
    found = getattr(msg[header], "addresses", ())
    return [a for a in found if a.username and a.domain]


def _message_ids(value: object) -> list[str]:
    text = str(value or "")
    return _MESSAGE_ID.findall(text) or text.split()


def _html_to_text(html: str) -> str:
    tree = LexborHTMLParser(html)
    # Quoted history in HTML replies sits in <blockquote> (Gmail wraps it in .gmail_quote).
    for node in tree.css("head, script, style, template, blockquote, .gmail_quote"):
        node.decompose()
    # Marks, because HTML source whitespace means nothing: a run of block edges is one line
    # break (\x1e), while every <br> and paragraph end is a line break of its own (\x1f).
    for node in tree.css(_HTML_BLOCKS):
        node.insert_before("\x1e")
        node.insert_after("\x1f\x1e" if node.tag == "p" else "\x1e")
    for node in tree.css("br"):
        node.insert_after("\x1f")
    text = (tree.body or tree.root).text(deep=True, separator="") if tree.root else ""
    text = re.sub(r"[^\S\x1e\x1f]+", " ", text)
    text = re.sub(r"\x1e[\x1e ]*", "\n", text).replace("\x1f", "\n")
    return "\n".join(line.strip() for line in text.split("\n"))


def _strip_quotes_and_signature(text: str) -> str:
    lines = text.splitlines()
    kept: list[str] = []
    for i, line in enumerate(lines):
        if _ends_new_text(lines, i):
            break
        if not line.lstrip().startswith(">"):
            kept.append(line.rstrip())
    while kept and _RULE.match(kept[-1]):
        kept.pop()
    return re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip()


def _ends_new_text(lines: list[str], i: int) -> bool:
    """Whether line `i` starts a signature or the quoted original of a top-posted reply."""
    line = lines[i].strip()
    # Clients wrap long attributions: "On Mon, 3 Jun 2024, Jane Doe <jane@...>" / "wrote:".
    two_lines = f"{line} {lines[i + 1].strip()}" if i + 1 < len(lines) else line
    return bool(
        lines[i].rstrip() == "--"  # RFC 3676 "-- ", often with its trailing space lost
        or _SIGN_OFF.match(line)
        or _ATTRIBUTION.match(line)
        or _ATTRIBUTION.match(two_lines)
        or _ORIGINAL_MESSAGE.match(line)
        # Outlook quotes as a header block: "From: ..." then "Sent: ..." a line or two below.
        or (line.startswith("From:") and any(map(_OUTLOOK_HEADER.match, lines[i + 1 : i + 4])))
    )


def _threads(mails: list[_Mail]) -> dict[_Mail, list[_Mail]]:
    """Group mails under their thread root, in the order the threads were first seen."""
    by_id: dict[str, _Mail] = {}
    unique: list[_Mail] = []
    for mail in mails:
        if mail.message_id in by_id:
            continue  # the same message read twice (an inbox and a sent-mail export) counts once
        if mail.message_id:
            by_id[mail.message_id] = mail
        unique.append(mail)
    threads: dict[_Mail, list[_Mail]] = {}
    for mail in unique:
        root, seen = mail, {mail}
        # Climb to the earliest known ancestor until none is left; `seen` stops header loops.
        while True:
            parent = next((by_id[a] for a in root.ancestors if a in by_id), None)
            if parent is None or parent in seen:
                break
            seen.add(parent)
            root = parent
        threads.setdefault(root, []).append(mail)
    return threads


def _conversation(root: _Mail, mails: list[_Mail], ours: tuple[str, ...]) -> Conversation:
    first = mails[0]
    customer: Address | None = first.sender
    if _is_ours(first.sender, ours):  # an outbound campaign: whoever it went to is the customer
        customer = first.to[0] if first.to else None
    key = customer.addr_spec.lower() if customer else None
    # Every name the customer went by in this thread, so the anonymizer always catches it.
    everyone = (a for m in mails for a in (m.sender, *m.to))
    names = list(dict.fromkeys(a.display_name for a in everyone if a.addr_spec.lower() == key))
    pii = {
        "PERSON": [n for n in names if n],
        "EMAIL_ADDRESS": [customer.addr_spec] if customer else [],
    }
    messages = [
        Message("user" if m.sender.addr_spec.lower() == key else "assistant", m.body, m.date)
        for m in mails
    ]
    return Conversation(
        id=root.message_id or "email-" + _sha1(f"{root.source}:{root.line}")[:16],
        user_id="email-" + _sha1(key)[:12] if key else None,  # never the address itself
        messages=messages,
        source=first.source,
        line=first.line,
        meta={"subject": first.subject, "channel": "email", "known_pii": pii},
    )


def _is_ours(address: Address, ours: tuple[str, ...]) -> bool:
    spec = address.addr_spec.lower()
    return any(spec == o or (o.startswith("@") and spec.endswith(o)) for o in ours)


def _sha1(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()
