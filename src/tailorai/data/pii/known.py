"""The PII already known for a record's user (``meta["known_pii"]``), found however it is
written."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

from tailorai.data.pii.spans import Found
from tailorai.data.pii.words import WORD

__all__ = ["KnownPii"]

# Digits with any light punctuation between them: "555_010_0199" and "5 5 5 0 1 0 0 1 9 9" too.
_DIGIT_RUN = re.compile(r"\+?\(?\d(?:[ \t().\-_/]{0,3}\d){5,24}")


class KnownPii:
    """Finds the PII already known for a record's user, however it is written.

    `known` maps an entity type to values: ``{"PERSON": ["Jane Doe"], "EMAIL_ADDRESS":
    ["jane@x.com"], "PHONE_NUMBER": ["+1 555 0100"]}``. Names match in any case, whole or by
    part ("jane", "DOE"), except parts that are common words (the "will" of "Will Smith"
    matches only within the full name); phones match on their digits, with or without country
    code or trunk zero; everything else matches literally, in any case.
    """

    def __init__(self, known: Mapping[str, Sequence[str]], common: Iterable[str] = ()) -> None:
        common = frozenset(common)
        self.phones: list[tuple[str, str]] = []  # (entity_type, digits without leading zeros)
        literals: dict[str, set[str]] = {}
        for entity, values in known.items():
            for value in values or ():
                if not isinstance(value, str) or not value.strip():
                    continue
                if entity == "PHONE_NUMBER":
                    digits = re.sub(r"\D", "", value).lstrip("0")
                    if len(digits) >= 7:
                        self.phones.append((entity, digits))
                    continue
                literals.setdefault(entity, set()).add(value.strip())
                if entity == "PERSON":
                    literals[entity].update(
                        p for p in WORD.findall(value) if len(p) > 2 and p.lower() not in common
                    )
        self.patterns = [
            (
                entity,
                re.compile(
                    r"(?<![\w@.])(?:"
                    + "|".join(_flexible(v) for v in sorted(vs, key=len, reverse=True))
                    + r")(?![\w@])",
                    re.IGNORECASE,
                ),
            )
            for entity, vs in literals.items()
        ]

    def find(self, text: str) -> list[Found]:
        found: list[Found] = [
            (e, m.start(), m.end(), 1.0) for e, rx in self.patterns for m in rx.finditer(text)
        ]
        if self.phones:
            for m in _DIGIT_RUN.finditer(text):
                digits = re.sub(r"\D", "", m.group()).lstrip("0")
                for entity, known in self.phones:
                    if len(digits) >= 7 and (
                        digits == known or known.endswith(digits) or digits.endswith(known)
                    ):
                        found.append((entity, m.start(), m.end(), 1.0))
                        break
        return found


def _flexible(value: str) -> str:
    """A literal regex in which any run of whitespace matches any other."""
    return r"\s+".join(re.escape(part) for part in value.split())
