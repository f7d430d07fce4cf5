"""Presidio's pattern recognizers (email, credit card with Luhn, US SSN, IP, IBAN with checksum,
URL) and its phonenumbers-based phone recognizer, each run only on texts that a cheap test says
could hold a match, with Presidio's context words deciding its weak patterns."""

from __future__ import annotations

import re
from collections.abc import Sequence

from tailorai.data.pii.spans import Found
from tailorai.errors import MissingDependency

__all__ = ["PresidioRecognizers"]


class PresidioRecognizers:
    """Presidio's own pattern and phone recognizers, each behind a cheap test of the text."""

    # A result scored below this (Presidio's "weak" patterns) counts only with one of its
    # recognizer's context words just before it, as Presidio's context enhancer would require.
    WEAK = 0.4
    CONTEXT_WINDOW = 60

    def __init__(self, entities: Sequence[str]) -> None:
        try:
            from presidio_analyzer.predefined_recognizers import (
                CreditCardRecognizer,
                EmailRecognizer,
                IbanRecognizer,
                IpRecognizer,
                PhoneRecognizer,
                UrlRecognizer,
                UsSsnRecognizer,
            )
        except ImportError as exc:
            raise MissingDependency(
                "The Python package 'presidio-analyzer'", "pip install presidio-analyzer"
            ) from exc
        # (entity, recognizer, prefilter): the prefilter is a necessary condition for a match.
        table = [
            ("EMAIL_ADDRESS", EmailRecognizer, re.compile(r"\w@\w")),
            ("CREDIT_CARD", CreditCardRecognizer, re.compile(r"\d(?:[ \-]?\d){11,18}")),
            (
                "US_SSN",
                UsSsnRecognizer,
                re.compile(r"\d{3}[ .\-]?\d{2}[ .\-]?\d{4}|\d{5}-\d{4}|\d{3}-\d{6}"),
            ),
            (
                "IP_ADDRESS",
                IpRecognizer,
                re.compile(
                    r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}|[0-9A-Fa-f]{0,4}:[0-9A-Fa-f]{0,4}:"
                ),
            ),
            ("IBAN_CODE", IbanRecognizer, re.compile(r"[A-Za-z]{2}[ ]?\d{2}[ ]?[A-Za-z0-9]{4}")),
            (
                "URL",
                UrlRecognizer,
                re.compile(
                    r"(?i)://|www\.|\w\.(?:com|org|net|edu|gov|io|co|uk|de|fr|info|biz|me|ly)\b"
                ),
            ),
            ("PHONE_NUMBER", PhoneRecognizer, re.compile(r"\d(?:\D{0,3}\d){6}")),
        ]
        self.recognizers = [(e, cls(), pre) for e, cls, pre in table if e in entities]

    def find(self, text: str) -> list[Found]:
        found: list[Found] = []
        lowered: str | None = None
        for entity, recognizer, prefilter in self.recognizers:
            if prefilter.search(text) is None:
                continue
            for r in recognizer.analyze(text, [entity], None):
                if r.score < self.WEAK:
                    lowered = lowered if lowered is not None else text.lower()
                    before = lowered[max(0, r.start - self.CONTEXT_WINDOW) : r.start]
                    if not any(word in before for word in recognizer.context or ()):
                        continue  # Presidio's context enhancer would not lift it either
                found.append((r.entity_type, r.start, r.end, r.score))
        return found
