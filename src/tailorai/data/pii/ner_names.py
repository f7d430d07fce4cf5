"""Corrections to the person names spaCy's NER finds: the lead-in word it pulls into a name
("Call Jane"), and the capitalized unknown words it leaves out."""

from __future__ import annotations

import re
from collections.abc import Sequence

from tailorai.data.pii.lexicon import Lexicon
from tailorai.data.pii.spans import Found
from tailorai.data.pii.words import WORD, base_word, sentence_initial, strip_possessive, word_set

__all__ = ["lead_in", "not_a_name", "unknown_capitalized"]

# Words the small model often pulls into a name: "Call Jane", "ok jane", "Thanks Sarah".
_LEAD_INS = word_set(
    "call ask tell text email mail message ping contact meet thank thanks hi hey hello dear ok "
    "okay yes no sorry please"
)
_FIRST_WORD = re.compile(r"([^\W\d_]+)[,!]?\s+(?=\S)")


def lead_in(name: str, lexicon: Lexicon) -> int:
    """How many leading characters of an NER name are a lead-in word, not part of the name."""
    m = _FIRST_WORD.match(name)
    if m is None:
        return 0
    word = m.group(1)
    if word.lower() in _LEAD_INS or (word.islower() and lexicon.is_common(word)):
        return m.end()
    return 0


def not_a_name(name: str, lexicon: Lexicon) -> bool:
    """An NER "name" that is a role or a thing: a field label ("Requester", "Landlord", "Senior
    Buyer"), or lower-case words ("card", "voicemail transcript"). Every word is an English word
    that no name or place list holds."""
    words = WORD.findall(name)
    return bool(words) and all(
        lexicon.is_english(w) and base_word(w) not in lexicon.names_and_places
        and (w.islower() or len(words) == 1 or lexicon.is_common(w))
        for w in words
    )  # fmt: skip


_TITLE_CASE = re.compile(r"[^\W\d_][^\W\d_A-Z]+(?:['’]s)?")


def unknown_capitalized(
    text: str, lexicon: Lexicon, covered: Sequence[tuple[int, int]]
) -> list[Found]:
    """Capitalized words in mid-sentence that are no English word and that NER put in no entity
    ("between him and Sumaya's kid"): most are names NER missed, a few are brands. Low score."""
    found: list[Found] = []
    for m in WORD.finditer(text):
        word = m.group()
        if not word[0].isupper() or len(word) < 3 or not _TITLE_CASE.fullmatch(word):
            continue
        low = base_word(word)
        if low in lexicon.common or lexicon.is_english(low) or sentence_initial(text, m.start()):
            continue
        if any(start <= m.start() < end for start, end in covered):
            continue
        found.append(("PERSON", m.start(), strip_possessive(text, m.start(), m.end()), 0.3))
    return found
