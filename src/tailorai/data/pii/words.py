"""Words as the recognizers see them: how to find them, their bare form, where a sentence starts."""

from __future__ import annotations

import re

__all__ = ["WORD", "base_word", "sentence_initial", "strip_possessive", "word_set"]

WORD = re.compile(r"[^\W\d_]+(?:[-'’][^\W\d_]+)*")
_LEFT_SKIP = " \t\"'“‘(["
_SENTENCE_END = ".!?:;\n…"


def word_set(text: str) -> frozenset[str]:
    return frozenset(text.split())


def sentence_initial(text: str, start: int) -> bool:
    i = start - 1
    while i >= 0 and text[i] in _LEFT_SKIP:
        i -= 1
    return (
        i < 0 or text[i] in _SENTENCE_END or (text[i] in "-*•" and (i == 0 or text[i - 1] in " \n"))
    )


def base_word(word: str) -> str:
    """The word without a clitic, lower case: "I'm" -> "i"."""
    return re.split(r"['’]", word, maxsplit=1)[0].lower()


def strip_possessive(text: str, start: int, end: int) -> int:
    return end - 2 if text[start:end].endswith(("'s", "’s")) and end - 2 > start else end
