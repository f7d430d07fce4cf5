"""The NER gate: which words could start a person or place, so that spaCy's NER runs only
around them. Word lists only, so it costs microseconds per message."""

from __future__ import annotations

from tailorai.data.pii.lexicon import Lexicon
from tailorai.data.pii.spans import placeholders
from tailorai.data.pii.words import WORD, base_word, sentence_initial

__all__ = ["needs_ner", "ner_triggers"]


def ner_triggers(text: str, lexicon: Lexicon) -> list[tuple[int, int]]:
    """The words that could start a person or place, for spaCy's NER to look at.

    NER is most of the cost of anonymizing, and in chat and support text most messages hold no
    name: only common English words, capitalized at most at the start of a sentence. A trigger
    is a capitalized word that is a known name or place, no English word, or a noun in the middle
    of a sentence ("deliver to Dublin"); or a lower-case word that is a common given name.
    """
    spans: list[tuple[int, int]] = []
    for m in WORD.finditer(text):
        word = m.group()
        low = base_word(word)
        if word in _PLACE_ACRONYMS:
            spans.append(m.span())
        elif len(low) < 2 or low in lexicon.common:
            continue
        elif not word[0].isupper():
            if low in lexicon.lower_gate:
                spans.append(m.span())
        elif (
            low in lexicon.names_and_places
            or not lexicon.is_english(low)
            or (not word.isupper() and not sentence_initial(text, m.start()))
        ):
            spans.append(m.span())
    if spans and "{{" in text:
        slots = placeholders(text)
        spans = [(s, e) for s, e in spans if not any(a <= s < b for a, b in slots)]
    return spans


def needs_ner(text: str, lexicon: Lexicon) -> bool:
    """Whether spaCy's NER could find a person or place here, judged from the words alone."""
    return bool(ner_triggers(text, lexicon))


_PLACE_ACRONYMS = frozenset({"US", "USA", "UK", "UAE", "EU", "NYC", "LA", "DC"})
