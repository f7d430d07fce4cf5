"""The word lists the name and NER-gate heuristics consult, built once from the spaCy model's
lemmatizer and stop words and from Faker's given names, surnames and places."""

from __future__ import annotations

import importlib
import pkgutil
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from tailorai.data.pii.words import word_set

__all__ = ["Lexicon"]

_MONTHS_DAYS_SEASONS = word_set(
    "january february march april may june july august september october november december "
    "monday tuesday wednesday thursday friday saturday sunday spring summer autumn fall winter "
    "christmas easter god lord feb jun jul aug sep sept oct nov dec tue tues thu thur thurs fri"
)
# Chat words that name lists also hold ("Hey" is a given name somewhere).
_INTERJECTIONS = word_set(
    "hi hey hello hiya yo sup ok okay okie k lol lmao haha hahaha hehe yeah ya yep yup nope nah "
    "bye thanks thanx thx ty pls plz omg wow oh ah aw aww hmm hmmm um uh ugh er gn gm tc ur u r "
    "da la lor dear sir madam aight kay gud wat coz cos jus congrats dont cant wont im ive lemme "
    "gonna wanna mmm mmmm aiyah aiyo"
)


@dataclass(frozen=True, slots=True)
class Lexicon:
    """Word lists the name and NER-gate heuristics consult.

    `english` is every English word form the spaCy model's lemmatizer knows (WordNet, which also
    lists famous proper nouns), `common` the ones that are plainly not names (stop words, verbs,
    adjectives, adverbs, months), `first_names` the given names of Faker's Latin-script locales,
    `names_and_places` those plus surnames, countries, states and cities, all lower case, and
    `any_given` every given name any of those locales lists, words like "grace" and "sabine"
    included (only a strong cue such as "Applicant:" makes one a name).
    """

    english: frozenset[str]
    common: frozenset[str]
    stop: frozenset[str]
    first_names: frozenset[str]
    lower_first_names: frozenset[str]
    lower_gate: frozenset[str]
    names_and_places: frozenset[str]
    any_given: frozenset[str] = frozenset()

    @classmethod
    def build(cls, lemma_lookups: Any | None, stop_words: Iterable[str]) -> Lexicon:
        stop = frozenset(w.lower() for w in stop_words)
        english: set[str] = set(stop)
        common: set[str] = set(stop) | _MONTHS_DAYS_SEASONS | _INTERJECTIONS
        if lemma_lookups is not None:
            index, exceptions = (
                lemma_lookups.get_table("lemma_index"),
                lemma_lookups.get_table("lemma_exc"),
            )
            for pos in ("noun", "verb", "adj", "adv"):
                words = set(index.get(pos, ())) | set(exceptions.get(pos, {}))
                english |= words
                if pos != "noun":
                    common |= words
        first, surnames, places = _faker_lists()
        # A given name that only one locale lists is often not one ("Canyon", "China").
        given = {n for n, locales in first.items() if locales >= 2} - places - common
        return cls(
            english=frozenset(english),
            common=frozenset(common),
            stop=stop,
            first_names=frozenset(given),
            lower_first_names=frozenset(n for n in given if first[n] >= 3 and n not in english),
            # Worth running NER for in lower case: those, and names most locales share ("john").
            lower_gate=frozenset(
                n for n in given if first[n] >= 3 and (n not in english or first[n] >= 5)
            ),
            names_and_places=frozenset(given | surnames | places),
            any_given=frozenset(first),
        )

    def is_common(self, word: str) -> bool:
        """A word that is never taken for a name on its own: 'Will', 'June', 'The'."""
        return word.lower() in self.common

    def is_english(self, word: str) -> bool:
        low = word.lower()
        if low in self.english:
            return True
        # Regular inflections are not in the word lists; strip the usual suffixes.
        for suffix, repl in (
            ("ies", "y"),
            ("es", ""),
            ("s", ""),
            ("ed", ""),
            ("ed", "e"),
            ("ing", ""),
            ("ing", "e"),
            ("ly", ""),
            ("er", ""),
            ("est", ""),
        ):
            if (
                low.endswith(suffix)
                and len(low) > len(suffix) + 2
                and low[: -len(suffix)] + repl in self.english
            ):
                return True
        return False


def _faker_lists() -> tuple[Counter[str], set[str], set[str]]:
    """From Faker's Latin-script locales, lower case: given names with the number of locales
    that list each, surnames, and places (countries, states, cities)."""
    first: Counter[str] = Counter()
    surnames: set[str] = set()
    places: set[str] = set()
    for package, attrs in (
        (
            "faker.providers.person",
            ("first_names", "first_names_male", "first_names_female", "last_names"),
        ),
        ("faker.providers.address", ("countries", "states", "cities")),
    ):
        try:
            root = importlib.import_module(package)
        except ImportError:  # Faker is a dependency; without it the lists are just empty
            break
        for info in pkgutil.iter_modules(root.__path__):
            try:
                provider = importlib.import_module(f"{package}.{info.name}").Provider
            except (ImportError, AttributeError):
                continue
            given: set[str] = set()
            for attr in attrs:
                values = getattr(provider, attr, None)
                if not isinstance(values, Mapping | tuple | list):
                    continue
                words = {v.lower() for v in values if isinstance(v, str) and _latin_word(v)}
                if attr.startswith("first"):
                    given |= words
                elif attr == "last_names":
                    surnames |= words
                else:
                    places |= words
            first.update(given)
    return first, surnames, places


def _latin_word(value: str) -> bool:
    return len(value) > 2 and all(c.isalpha() and ord(c) < 0x250 for c in value)
