"""Data augmentation: more ways of asking the same thing, each checked to keep its meaning.

Three methods rewrite the prompt (last user message) of a training example and keep its reply:
`synonyms` (WordNet), `backtranslate` (Apertium or an OpenAI-compatible server) and `templates`
(per-intent phrasings). `augment` runs them and drops rewrites that drift in meaning.

Example::

    result = augment(examples, ["synonyms", "templates"], seed=0, min_similarity=0.8)
    examples += result.examples
"""

from __future__ import annotations

from tailorai.data.augment.augment import METHODS, AugmentResult, augment
from tailorai.data.augment.backtranslate import BackTranslator
from tailorai.data.augment.base import Augmenter
from tailorai.data.augment.meaning import MeaningGate
from tailorai.data.augment.synonyms import SynonymReplacer
from tailorai.data.augment.templates import SUPPORT_TEMPLATES, TemplateAugmenter, TemplateSet
from tailorai.data.augment.translators import (
    ApertiumTranslator,
    OpenAICompatibleTranslator,
    Translator,
)
from tailorai.data.augment.wordnet import build_wordnet, load_wordnet

__all__ = [
    "METHODS",
    "SUPPORT_TEMPLATES",
    "ApertiumTranslator",
    "AugmentResult",
    "Augmenter",
    "BackTranslator",
    "MeaningGate",
    "OpenAICompatibleTranslator",
    "SynonymReplacer",
    "TemplateAugmenter",
    "TemplateSet",
    "Translator",
    "augment",
    "build_wordnet",
    "load_wordnet",
]
