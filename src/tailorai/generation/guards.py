"""Finishing touches on generated text, so what a user reads is whole and addressed to them.

A small instruction model writes the placeholders its training emails had ("Dear [Customer
Name]", "[Your Name]", "[Company Name]") and, when the token limit cuts it, stops mid-sentence.
`fill_placeholders` puts in what the request knows (the customer's name, the brand) and a plain
word where it does not; `trim_unfinished` cuts a reply the limit ended back to its last whole
sentence. Placeholders the request cannot fill ("[Film A]") are left as they are: a reviewer
should see them (the audit's review queue), not have them guessed.
"""

from __future__ import annotations

import re

__all__ = ["fill_placeholders", "trim_unfinished"]

_BRACKETED = re.compile(r"\[([A-Za-z][A-Za-z .'’-]{0,40})\]")
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
}
_GREETING = re.compile(r"\b(Dear|Hi|Hello|Hey)\s+\[([^\]]{1,40})\]", re.IGNORECASE)
_SENTENCE_END = re.compile(r"[.!?…][\"'”’)\]]*(?=\s|$)|\n")


def _kind(label: str) -> str | None:
    key = " ".join(label.lower().split())
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
    if not ends or ends[-1] == len(text):
        return text
    cut = text[: ends[-1]].rstrip()
    return cut if len(cut) >= keep * len(text) else text
