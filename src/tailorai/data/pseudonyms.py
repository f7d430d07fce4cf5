"""Consistent per-user pseudonyms: the same user's same value always gets the same fake one.

Each fake is drawn by Faker from a seed that is an HMAC (keyed with a secret) of the user id, the
entity type and the normalized original value. So the mapping is stable across messages,
processes and runs with the same secret and Faker version, differs between users, and cannot be
reversed or recomputed without the secret. Fakes keep the shape of what they replace: a name for
a name (in the same case), an email for an email, a phone number in the original's format, a
credit card number that passes the Luhn check.

Example::

    p = Pseudonymizer(secret="s3cret")
    p.fake("user-1", "PERSON", "Jane Doe") == p.fake("user-1", "PERSON", "jane doe")  # True
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable

from faker import Faker

from tailorai.errors import ConfigError

__all__ = ["Pseudonymizer"]

_DIGIT = re.compile(r"\d")


class Pseudonymizer:
    """Maps (user, entity type, value) to a fake value of the same kind, deterministically."""

    def __init__(self, secret: str | bytes, *, locale: str = "en_US") -> None:
        if not isinstance(secret, str | bytes) or not secret:
            raise ConfigError(
                "The 'secret' of Pseudonymizer must be a non-empty string or bytes. "
                f"Got {type(secret).__name__} {secret!r} instead."
            )
        self._key = secret.encode() if isinstance(secret, str) else secret
        self._faker = Faker(locale)
        self._makers: dict[str, Callable[[str], str]] = {
            "EMAIL_ADDRESS": lambda v: self._faker.email(safe=True),
            "PHONE_NUMBER": self._digits_like,
            "CREDIT_CARD": self._card_like,
            "US_SSN": lambda v: _reformat(self._faker.ssn(), v),
            "IP_ADDRESS": lambda v: self._faker.ipv6() if ":" in v else self._faker.ipv4_private(),
            "IBAN_CODE": lambda v: self._faker.iban(),
            "URL": lambda v: self._faker.url(),
            "ADDRESS": self._address,
            "LOCATION": lambda v: self._faker.city(),
        }

    def fake(self, user_id: str | None, entity_type: str, value: str) -> str:
        """The fake that stands for `value`, always the same one for this user and type."""
        if entity_type == "PERSON":
            # Word by word, so "Jane" alone gets the first name of "Jane Doe"'s fake.
            words = value.split()
            return " ".join(self._name_word(user_id, w, first=i == 0) for i, w in enumerate(words))
        self._seed(user_id, entity_type, value)
        maker = self._makers.get(entity_type)
        return maker(value) if maker else f"<{entity_type}>"

    def _seed(self, user_id: str | None, entity_type: str, value: str) -> None:
        normalized = _normalize(entity_type, value)
        message = "\x1f".join((user_id or "", entity_type, normalized)).encode()
        digest = hmac.new(self._key, message, hashlib.sha256).digest()
        self._faker.seed_instance(int.from_bytes(digest[:8], "big"))

    def _name_word(self, user_id: str | None, word: str, *, first: bool) -> str:
        self._seed(user_id, "PERSON", word)
        fake = self._faker.first_name() if first else self._faker.last_name()
        if word.isupper() and len(word) > 1:
            return fake.upper()
        return fake.lower() if word.islower() else fake

    def _digits_like(self, value: str) -> str:
        """Random digits in the original's layout: "+1 (555) 010-0199" stays "+d (ddd) ddd-dddd"."""
        return _DIGIT.sub(lambda _: str(self._faker.random_digit()), value)

    def _card_like(self, value: str) -> str:
        digits = [self._faker.random_digit() for _ in _DIGIT.findall(value)]
        if digits:
            digits[0] = self._faker.random_element((3, 4, 5, 6))
            digits[-1] = _luhn_check_digit(digits[:-1])
        it = iter(digits)
        return _DIGIT.sub(lambda _: str(next(it)), value)

    def _address(self, value: str) -> str:
        if "\n" in value:
            return self._faker.address()
        if "," in value:
            return f"{self._faker.street_address()}, {self._faker.city()}"
        return self._faker.street_address()


def _normalize(entity_type: str, value: str) -> str:
    if entity_type in ("PHONE_NUMBER", "CREDIT_CARD", "US_SSN"):
        return re.sub(r"\D", "", value).lstrip("0")
    return " ".join(value.casefold().split())


def _reformat(fake: str, like: str) -> str:
    """`fake`'s digits in `like`'s layout, when both have as many digits."""
    digits = _DIGIT.findall(fake)
    if len(digits) != len(_DIGIT.findall(like)):
        return fake
    it = iter(digits)
    return _DIGIT.sub(lambda _: next(it), like)


def _luhn_check_digit(digits: list[int]) -> int:
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 0:
            d *= 2
            d = d - 9 if d > 9 else d
        total += d
    return (10 - total % 10) % 10
