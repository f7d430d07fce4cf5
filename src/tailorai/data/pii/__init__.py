"""Find personal data in batches of short texts: Presidio's recognizers, spaCy NER, and ours.

`PiiDetector` (`detector`) merges Presidio's own recognizers (`presidio`) and spaCy's NER with
recognizers Presidio lacks: street addresses, lenient phones, name cues, the user's own PII.
Each of those is a plain function or small class over one text that returns ``(entity_type,
start, end, score)`` tuples (`Found`). They are regular expressions plus word lists
(`Lexicon`), so they cost microseconds per message and never need the NER model to run.
`evaluate_pii` (`evaluate`) scores a detector on labelled spans.
"""

from __future__ import annotations

from tailorai.data.pii.addresses import find_addresses
from tailorai.data.pii.detector import (
    CONTACT_ENTITIES,
    DEFAULT_ENTITIES,
    PRIORITY,
    SPACY_INSTALL,
    SPACY_MODEL,
    SUPPORTED_ENTITIES,
    PiiDetector,
    PiiSpan,
    load_ner,
)
from tailorai.data.pii.evaluate import (
    COMPATIBLE,
    SYNONYMS,
    Detector,
    PresidioBatchDetector,
    evaluate_pii,
)
from tailorai.data.pii.known import KnownPii
from tailorai.data.pii.lexicon import Lexicon
from tailorai.data.pii.names import find_names
from tailorai.data.pii.ner_gate import needs_ner, ner_triggers
from tailorai.data.pii.ner_names import lead_in, unknown_capitalized
from tailorai.data.pii.phones import find_phones
from tailorai.data.pii.spans import Found, placeholders

__all__ = [
    "COMPATIBLE",
    "CONTACT_ENTITIES",
    "DEFAULT_ENTITIES",
    "PRIORITY",
    "SPACY_INSTALL",
    "SPACY_MODEL",
    "SUPPORTED_ENTITIES",
    "SYNONYMS",
    "Detector",
    "Found",
    "KnownPii",
    "Lexicon",
    "PiiDetector",
    "PiiSpan",
    "PresidioBatchDetector",
    "evaluate_pii",
    "find_addresses",
    "find_names",
    "find_phones",
    "lead_in",
    "load_ner",
    "needs_ner",
    "ner_triggers",
    "placeholders",
    "unknown_capitalized",
]
