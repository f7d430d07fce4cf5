"""Finishing touches on generated text, so what a user reads is whole and addressed to them.

A small instruction model writes the placeholders its training emails had ("Dear [Customer
Name]", "[Your Name]", "[Company Name]") and, when the token limit cuts it, stops mid-sentence.
`fill_placeholders` puts in what the request knows (the customer's name, the brand) and a plain
word where it does not; `trim_unfinished` cuts a reply the limit ended back to its last whole
sentence. Placeholders the request cannot fill ("[Film A]") are left as they are: a reviewer
should see them (the audit's review queue), not have them guessed. `tidy_content` takes out
what the model copies from the emails it was trained on but a body must not hold: header lines
("Subject: ...", "Date: ...", "Email: [Your Email Address]") and a last line of emoji alone,
and signs a sign-off left without a name.
"""

from __future__ import annotations

import re

__all__ = ["fill_placeholders", "strip_headers", "tidy_content", "trim_unfinished"]

_BRACKETED = re.compile(r"\[([A-Za-z][A-Za-z _.'’-]{0,40})\]")
_CUSTOMER = {
    "customer name",
    "customer's name",
    "customer’s name",
    "customer",
    "name",
    "first name",
    "recipient",
    "recipient name",
    "recipient's name",
    "user",
    "user name",
    "user's name",
    "client name",
    "client's name",
}
_SENDER = {"your name", "sender", "sender name", "sender's name", "your full name", "signature"}
_COMPANY = {
    "company name",
    "company",
    "your company",
    "your company name",
    "brand",
    "brand name",
    "store",
    "store name",
    "business name",
    "shop name",
    "platform",
    "platform name",
    "website",
    "website name",
    "app name",
    "service name",
}
_GREETING = re.compile(r"\b(Dear|Hi|Hello|Hey)\s+\[([^\]]{1,40})\]", re.IGNORECASE)
_SENTENCE_END = re.compile(r"[.!?…][\"'”’)\]]*(?=\s|$)|\n")


_HEADER = re.compile(
    r"^[ \t]*(subject|date|e-?mail|to|from|cc|bcc|phone|tel|re)[ \t]*:.*(\n|$)",
    re.IGNORECASE | re.MULTILINE,
)
# A line of list markers, or of symbols and emoji, with no word in it.
_BARE_MARKER = re.compile(r"\n[ \t]*(\d{1,2}[.)]|[-*•])?[ \t]*$")
_NO_WORD = re.compile(r"[^\w]*")
_PLACEHOLDER_LINE = re.compile(r"\[([^\]]{1,40})\](?:[ \t]*\([^)]*\))?[.,:]?")
_SIGN_OFF = re.compile(
    r"(?:^|\n)[ \t]*(best regards|kind regards|warm regards|regards|best wishes|best|"
    r"sincerely|yours sincerely|cheers|thanks|thank you|warmly)[ \t]*,[ \t]*$",
    re.IGNORECASE,
)


def _kind(label: str) -> str | None:
    key = " ".join(label.lower().replace("_", " ").split())
    if "category" in key or "genre" in key:
        return "category"
    if key in _CUSTOMER:
        return "customer"
    if key in _SENDER:
        return "sender"
    if key in _COMPANY:
        return "company"
    return None


def fill_placeholders(
    text: str,
    *,
    customer: str | None = None,
    brand: str | None = None,
    category: str | None = None,
) -> str:
    """`text` with the customer, sender, company and category placeholders filled (a
    category one, "[Favourite Film Category]", with the user's favourite, where known).

    >>> fill_placeholders("Dear [Customer Name],\\nBest,\\n[Your Name]", brand="Cinema Club")
    'Hello,\\nBest,\\nThe Cinema Club team'
    """

    def greeting(match: re.Match[str]) -> str:
        if _kind(match.group(2)) != "customer":
            return match.group(0)
        return f"{match.group(1)} {customer}" if customer else "Hello"

    text = _GREETING.sub(greeting, text)

    def other(match: re.Match[str]) -> str:
        kind = _kind(match.group(1))
        if kind == "customer":
            return customer or "you"
        if kind == "sender":
            return f"The {brand} team" if brand else "The team"
        if kind == "company":
            return brand or "us"
        if kind == "category" and category:
            return category
        return match.group(0)

    return _BRACKETED.sub(other, text)


def trim_unfinished(text: str, *, keep: float = 0.3) -> str:
    """`text` cut after its last whole sentence (or line), when that keeps at least `keep` of
    it; else unchanged (one long unfinished sentence is better than nothing).

    >>> trim_unfinished("It ships today. We will email you when")
    'It ships today.'
    """
    text = text.rstrip()
    ends = [m.end() for m in _SENTENCE_END.finditer(text)]
    cut = text[: ends[-1]].rstrip() if ends else text
    # A list the limit cut before its first item: its bare number ("1.") and the line that
    # introduced it ("Here are this week's films:") say nothing on their own.
    while (bare := _BARE_MARKER.search(cut)) or cut.endswith(":"):
        cut = cut[: bare.start()] if bare else cut[: cut.rfind("\n") + 1]
        cut = cut.rstrip()
    return cut if len(cut) >= keep * len(text) else text


def _recipient_line(line: str) -> bool:
    found = _PLACEHOLDER_LINE.fullmatch(line.strip())
    return found is not None and _kind(found.group(1)) == "customer"


def strip_headers(text: str) -> str:
    """`text` without its email header lines ("Subject: ...", "To: ...", "Email: ...").

    >>> strip_headers("Hello\\nDate: 25th January\\nWe miss you.")
    'Hello\\nWe miss you.'
    """
    return _HEADER.sub("", text)


def tidy_content(text: str, *, brand: str | None = None) -> str:
    """`text` without the header lines and trailing emoji-only lines a small model writes into
    an email body, its sign-off signed by the brand's team where the model left it unsigned.
    For content (emails, descriptions), not chat replies.

    >>> tidy_content("Subject: Hi!\\nWe miss you.\\nBest regards,\\n🎉✨", brand="Cinema Club")
    'We miss you.\\nBest regards,\\nThe Cinema Club team'
    """
    text = strip_headers(text).rstrip()
    # A line that is only the recipient's placeholder ("[Customer Name] (Cinema Club)") is a
    # header the model wrote without its "To:", not a sentence to fill with "you".
    lines = [line for line in text.split("\n") if not _recipient_line(line)]
    while len(lines) > 1 and _NO_WORD.fullmatch(lines[-1].strip()):
        lines.pop()
    text = "\n".join(lines).rstrip()
    if _SIGN_OFF.search(text):
        text += f"\nThe {brand} team" if brand else "\nThe team"
    return text
