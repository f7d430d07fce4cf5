"""Phone numbers in any national format, by shape; Presidio's phone recognizer only accepts
numbers that are valid in a few countries."""

from __future__ import annotations

import re

from tailorai.data.pii.spans import Found

__all__ = ["find_phones"]

_PHONE = re.compile(
    r"""(?<![\w+\-./]) (?:\+|00)? \(? \d [\d\ \t().\-]{5,22} \d   # digits and separators
        (?:[\ \t]?(?:x|ext\.?|extension)[\ \t]?\d{1,6})?          # an extension
        (?![\w\-/]|\.\d)""",
    re.IGNORECASE | re.VERBOSE,
)
_PHONE_GROUPS = re.compile(r"\d+")
_DATE_LIKE = re.compile(
    r"""(?<!\d)(?: \d{4}[-.]\d{1,2}[-.]\d{1,2} | \d{1,2}[-.]\d{1,2}[-.]\d{2,4}
                 | (?:19|20)\d\d\ ?-\ ?(?:19|20)?\d\d )(?!\d)""",
    re.VERBOSE,
)
_THOUSANDS = re.compile(r"^[1-9]\d{0,2}(?:([ .])\d{3})(?:\1\d{3})*$")
_BAD_SEPARATORS = re.compile(r"[ \t]{2,}|[.\-]{2,}|\)\d|\d\(")
# Words that make a bare run of digits a phone number: "call me on 36352772006".
_PHONE_CUE = re.compile(
    r"(?i)\b(?:phone|tel|telephone|mobile|cell|call|ring|text|whatsapp|sms|fax|reach me|"
    r"contact|number|no)\b[^\d\n]{0,12}$"
)
_CUE_CHARS = 30


def find_phones(text: str) -> list[Found]:
    """Phone numbers in any national format, by shape: 7 to 15 digits in separated groups.

    Presidio's phone recognizer only accepts numbers that are valid in a few countries; this one
    also catches the many formats it rejects ("(07) 5331 0577", "041-412-293", "986.291.2294x751").
    """
    found: list[Found] = []
    for m in _PHONE.finditer(text):
        raw = m.group()
        body = re.split(r"(?i)[ \t]?(?:x|ext\.?|extension)[ \t]?(?=\d+$)", raw, maxsplit=1)[0]
        groups = _PHONE_GROUPS.findall(body)
        digits = sum(map(len, groups))
        if not 7 <= digits <= 15 or _DATE_LIKE.search(body) or _BAD_SEPARATORS.search(body):
            continue
        # "00" dials abroad only before a full number: "00123842" is an order number.
        international = raw.startswith(("+", "(")) or (
            raw.startswith("00") and raw[2:3] != "0" and digits >= 11
        )
        if (
            len(groups) == 1
            and not international
            and not _PHONE_CUE.search(text[max(0, m.start() - _CUE_CHARS) : m.start()])
        ):
            continue  # a bare run of digits: an order number as often as a phone, unless cued
        if (
            len(groups) >= 4
            and all(len(g) <= 3 for g in groups)
            and "." in body
            and not international
        ):
            continue  # 58.74.121.78 is an IP address
        if max(map(len, groups)) < 2:
            continue
        if _THOUSANDS.match(body) and not international:
            continue  # 12 500 000 is an amount
        found.append(("PHONE_NUMBER", m.start(), m.end(), 0.5))
    return found
