"""Payment card numbers Presidio's pattern misses: the Mastercard 2-series (2221-2720), 19-digit
Visa, Maestro (12-19 digits), UnionPay and the other networks' long forms, by issuer prefix,
length and the Luhn checksum, written together or in groups of digits."""

from __future__ import annotations

import re

from tailorai.data.pii.spans import Found

__all__ = ["find_cards", "luhn_valid"]

# 12-19 digits, together or in groups of 3-6 split by one space or dash (the same throughout).
_CARD = re.compile(
    r"(?<![\w+\-.])\d{3,6}(?:([ \-])\d{3,6}(?:\1\d{1,6}){0,4}|\d{6,16})(?![\w\-]|\.\d)"
)
# (prefix range start, end, lengths issued, lengths that need no context): a prefix is compared
# on as many leading digits as its bounds have. Lengths shared with other numbers (EAN-13
# barcodes, phone numbers with a country code) count only after a card word.
_NETWORKS: tuple[tuple[str, str, frozenset[int], frozenset[int]], ...] = (
    ("4", "4", frozenset({13, 16, 19}), frozenset({16, 19})),  # Visa
    ("51", "55", frozenset({16}), frozenset({16})),  # Mastercard
    ("2221", "2720", frozenset({16}), frozenset({16})),  # Mastercard 2-series
    ("34", "34", frozenset({15}), frozenset({15})),  # American Express
    ("37", "37", frozenset({15}), frozenset({15})),
    ("50", "50", frozenset(range(12, 20)), frozenset({16, 19})),  # Maestro
    # Maestro, Discover (6011, 644-649, 65), UnionPay (62)
    ("56", "69", frozenset(range(12, 20)), frozenset({16, 19})),
    ("300", "305", frozenset({14, 16, 19}), frozenset({14})),  # Diners Club
    ("36", "36", frozenset({14, 16, 19}), frozenset({14})),
    ("38", "39", frozenset({14, 16, 19}), frozenset({14})),
    ("35", "35", frozenset({16, 17, 18, 19}), frozenset({16})),  # JCB
)
_CONTEXT = re.compile(
    r"(?i)\b(?:card|cards|visa|master ?card|maestro|amex|american express|discover|jcb|diners"
    r"|unionpay|debit|credit|cc|pan|payment|pay with|charged?)\b"
)
_CONTEXT_CHARS = 40


def luhn_valid(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _network(digits: str) -> str | None:
    """'strong' for a prefix and length only cards have, 'context' for one that needs a card
    word before it, None for no network's."""
    for low, high, lengths, strong in _NETWORKS:
        head = digits[: len(low)]
        if low <= head <= high and len(digits) in lengths:
            return "strong" if len(digits) in strong else "context"
    return None


def find_cards(text: str) -> list[Found]:
    """Card numbers: an issuer prefix of a known network, a length it issues and a valid Luhn
    checksum (a random 16-digit number passes all three about 1 time in 25)."""
    found: list[Found] = []
    if not any(ch.isdigit() for ch in text):
        return found
    for m in _CARD.finditer(text):
        digits = re.sub(r"[ \-]", "", m.group())
        if not 12 <= len(digits) <= 19 or not luhn_valid(digits):
            continue
        kind = _network(digits)
        before = text[max(0, m.start() - _CONTEXT_CHARS) : m.start()]
        if kind == "strong" or (kind == "context" and _CONTEXT.search(before)):
            found.append(("CREDIT_CARD", m.start(), m.end(), 1.0))  # as sure as Presidio
    return found
