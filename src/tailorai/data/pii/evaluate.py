"""Score a PII detector on labelled spans in the presidio-research JSON format.

The file is a list of ``{"full_text": ..., "spans": [{"entity_type", "entity_value",
"start_position", "end_position"}]}`` records. Matching is by character overlap, not exact
boundaries, because for anonymization what matters is whether the personal data was covered:

- a gold span is *found* when a predicted span of a compatible type overlaps it by at least one
  character; recall per gold type is found / gold spans of that type;
- a prediction is *correct* when it overlaps any gold span, whatever its type (masking a city
  that the gold file calls part of an ADDRESS still removes personal data); precision is correct /
  predictions, overall and per predicted type.

Types are first mapped to one name (`SYNONYMS`: spaCy's GPE, LOC and FAC are LOCATION, gold
DOMAIN_NAME is URL, ...). Then ADDRESS and LOCATION are compatible with each other, since street
addresses and places overlap in both directions (a city line in an address block, a street that
NER calls a place). Every other type is compatible only with itself.

Example::

    scores = evaluate_pii(PiiDetector(), "../shared/data/pii/presidio_generated_small.json")
    scores["recall"]["PERSON"], scores["precision"]
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any, Protocol

from tailorai.data.pii.detector import SPACY_INSTALL, SPACY_MODEL, PiiSpan
from tailorai.errors import DataError, MissingDependency

__all__ = ["COMPATIBLE", "SYNONYMS", "Detector", "PresidioBatchDetector", "evaluate_pii"]

SYNONYMS: dict[str, str] = {
    "PER": "PERSON",
    "GPE": "LOCATION",
    "LOC": "LOCATION",
    "FAC": "LOCATION",
    "STREET_ADDRESS": "ADDRESS",
    "ORG": "ORGANIZATION",
    "DOMAIN_NAME": "URL",
    "DATE": "DATE_TIME",
    "TIME": "DATE_TIME",
}
COMPATIBLE: dict[str, frozenset[str]] = {
    "ADDRESS": frozenset({"ADDRESS", "LOCATION"}),
    "LOCATION": frozenset({"LOCATION", "ADDRESS"}),
}


class Detector(Protocol):
    def analyze(self, texts: Sequence[str]) -> list[list[PiiSpan]]: ...


def _canonical(entity_type: str) -> str:
    return SYNONYMS.get(entity_type, entity_type)


def _overlaps(a_start: int, a_end: int, b_start: int, b_end: int) -> bool:
    return a_start < b_end and b_start < a_end


def evaluate_pii(
    detector: Detector, path: str | Path, *, entities: Collection[str] | None = None
) -> dict[str, Any]:
    """Recall per gold type and precision of `detector` on a presidio-research JSON file.

    `entities`, when given, keeps only predictions of those (canonical) types, so detectors that
    find different sets of types can be compared on the same ones. Returns a dict with ``recall``,
    ``support`` (gold spans per type), ``precision``, ``precision_by_type``, ``predicted`` and
    ``records``.
    """
    try:
        records = json.loads(Path(path).read_text(encoding="utf-8"))
        texts = [r["full_text"] for r in records]
        gold = [
            [
                (_canonical(s["entity_type"]), s["start_position"], s["end_position"])
                for s in r["spans"]
            ]
            for r in records
        ]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DataError(f"Could not read PII spans from {path}: {exc}") from exc
    keep = None if entities is None else {_canonical(e) for e in entities}

    support: Counter[str] = Counter()
    found: Counter[str] = Counter()
    predicted: Counter[str] = Counter()
    correct: Counter[str] = Counter()
    for spans, gold_spans in zip(detector.analyze(texts), gold, strict=True):
        preds = [(_canonical(s.entity_type), s.start, s.end) for s in spans]
        if keep is not None:
            preds = [p for p in preds if p[0] in keep]
        for g_type, g_start, g_end in gold_spans:
            support[g_type] += 1
            ok = COMPATIBLE.get(g_type, frozenset({g_type}))
            if any(t in ok and _overlaps(s, e, g_start, g_end) for t, s, e in preds):
                found[g_type] += 1
        for p_type, p_start, p_end in preds:
            predicted[p_type] += 1
            if any(_overlaps(p_start, p_end, s, e) for _, s, e in gold_spans):
                correct[p_type] += 1

    n_pred = sum(predicted.values())
    return {
        "records": len(records),
        "recall": {t: found[t] / n for t, n in sorted(support.items())},
        "support": dict(sorted(support.items())),
        "precision": sum(correct.values()) / n_pred if n_pred else 1.0,
        "precision_by_type": {t: correct[t] / n for t, n in sorted(predicted.items())},
        "predicted": n_pred,
    }


class PresidioBatchDetector:
    """Presidio's own `BatchAnalyzerEngine`, in the shape `evaluate_pii` scores: the baseline.

    It is configured as Presidio documents it, with the same spaCy model as `PiiDetector`.
    """

    def __init__(
        self,
        *,
        entities: Sequence[str] | None = None,
        model: str = SPACY_MODEL,
        batch_size: int = 256,
    ) -> None:
        # The email recognizer's tldextract would otherwise try to download the suffix list.
        os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")
        import spacy.util
        from presidio_analyzer import AnalyzerEngine, BatchAnalyzerEngine
        from presidio_analyzer.nlp_engine import NlpEngineProvider

        # Presidio would try to download a missing model; there is no network to do it.
        if not spacy.util.is_package(model):
            raise MissingDependency(f"The spaCy model '{model}'", SPACY_INSTALL)
        config = {"nlp_engine_name": "spacy", "models": [{"lang_code": "en", "model_name": model}]}
        nlp_engine = NlpEngineProvider(nlp_configuration=config).create_engine()
        analyzer = AnalyzerEngine(nlp_engine=nlp_engine, supported_languages=["en"])
        self.engine = BatchAnalyzerEngine(analyzer_engine=analyzer)
        self.entities = list(entities) if entities is not None else None
        self.batch_size = batch_size

    def analyze(self, texts: Sequence[str]) -> list[list[PiiSpan]]:
        results = self.engine.analyze_iterator(
            list(texts), language="en", entities=self.entities, batch_size=self.batch_size
        )
        return [
            [PiiSpan(r.entity_type, r.start, r.end, r.score, text[r.start : r.end]) for r in rs]
            for text, rs in zip(texts, results, strict=True)
        ]
