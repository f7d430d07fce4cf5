"""Back-translation: the prompt translated to a pivot language and back gives a paraphrase.

Placeholders (`{{Order Number}}`, `<PERSON>`) and tokens holding `#`, `@` or `*` (invoice
numbers, e-mails) are swapped for inert tokens before translation and restored after it, so they
come back exactly; a round trip that loses one is discarded.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from tailorai.data.augment.base import PLACEHOLDER, comparable, prompt_index
from tailorai.data.augment.translators import ApertiumTranslator, Translator
from tailorai.records import Example

__all__ = ["BackTranslator", "protect", "restore"]

# Also shield tokens with the characters Apertium uses as error marks, so stripping the marks
# never eats a real "#37777".
_SHIELD = re.compile(rf"{PLACEHOLDER.pattern}|\S*[#@*]\S*")
# Made of letters and digits no dictionary knows, so translators copy it unchanged.
_TOKEN = re.compile(r"ZQX(\d+)Z", re.IGNORECASE)
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([?.!,;:])")


def protect(text: str) -> tuple[str, list[str]]:
    """`text` with shielded spans replaced by `ZQX0Z`, `ZQX1Z`, ...; and those spans."""
    kept: list[str] = []

    def swap(match: re.Match[str]) -> str:
        kept.append(match[0])
        return f"ZQX{len(kept) - 1}Z"

    return _SHIELD.sub(swap, text), kept


def restore(text: str, kept: list[str]) -> str | None:
    """Undo `protect`; None when a token was lost, duplicated or invented on the way."""
    found = [int(m[1]) for m in _TOKEN.finditer(text)]
    if sorted(found) != list(range(len(kept))):
        return None
    return _TOKEN.sub(lambda m: kept[int(m[1])], text)


class BackTranslator:
    """Round trips through each pivot language: at most one variant per pivot and example.

    Example: `BackTranslator(pivots=("es",))` uses Apertium English -> Spanish -> English.
    Translators are deterministic, so `seed` has no effect here.
    """

    name = "backtranslate"

    def __init__(
        self,
        translator: Translator | None = None,
        *,
        source: str = "en",
        pivots: Sequence[str] = ("es",),
    ) -> None:
        self.translator = translator if translator is not None else ApertiumTranslator()
        self.source = source
        self.pivots = tuple(pivots)

    def generate(self, examples: Sequence[Example], *, n: int, seed: int) -> list[list[str]]:
        prompts: list[str | None] = []
        for example in examples:
            i = prompt_index(example)
            prompts.append(None if i is None else example.messages[i].content)
        return self.round_trip([p or "" for p in prompts], n=n)

    def round_trip(self, texts: list[str], *, n: int = 1) -> list[list[str]]:
        """Up to `n` back-translations of each text, each different from it."""
        shielded = [protect(t) for t in texts]
        lines = [s for s, _ in shielded]
        out: list[list[str]] = [[] for _ in texts]
        for pivot in self.pivots[:n]:
            there = self.translator.translate(lines, self.source, pivot)
            back = self.translator.translate(there, pivot, self.source)
            for variants, text, line, (_, kept) in zip(out, texts, back, shielded, strict=True):
                new = restore(_SPACE_BEFORE_PUNCT.sub(r"\1", " ".join(line.split())), kept)
                taken = {comparable(v) for v in (text, *variants)}
                if text.strip() and new and comparable(new) not in taken:
                    variants.append(new)
        return out
