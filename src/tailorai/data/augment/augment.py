"""The entry point: new training examples made from existing ones, gated for meaning."""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from tailorai.data.augment.backtranslate import BackTranslator
from tailorai.data.augment.base import Augmenter, comparable, prompt_index
from tailorai.data.augment.meaning import MeaningGate
from tailorai.data.augment.synonyms import SynonymReplacer
from tailorai.data.augment.templates import TemplateAugmenter
from tailorai.data.augment.translators import Translator
from tailorai.errors import ConfigError
from tailorai.records import Example, Message

__all__ = ["METHODS", "AugmentResult", "augment", "method_names"]

METHODS = ("synonyms", "backtranslate", "templates")


@dataclass(slots=True)
class AugmentResult:
    """The new examples only, and per method: generated, kept, rejected_similarity."""

    examples: list[Example] = field(default_factory=list)
    stats: dict[str, dict[str, int]] = field(default_factory=dict)


def augment(
    examples: list[Example],
    methods: Sequence[str],
    *,
    seed: int = 0,
    min_similarity: float = 0.8,
    translator: Translator | None = None,
    per_example: int = 1,
) -> AugmentResult:
    """Rewrite the prompt (last user message) of each example with each method.

    Up to `per_example` rewrites per example and method are made; those whose similarity to the
    original falls under `min_similarity`, or that repeat the original or an earlier rewrite,
    are dropped. Originals are not modified. `methods` may also be one comma-separated string.

    Example: `augment(examples, ["synonyms", "templates"], seed=1).examples`.
    """
    names = _check(methods, per_example)
    gate = MeaningGate(min_similarity=min_similarity)
    builders: dict[str, Callable[[], Augmenter]] = {
        "synonyms": SynonymReplacer,
        "backtranslate": lambda: BackTranslator(translator),
        "templates": TemplateAugmenter,
    }
    # Built before any work, so a missing tool fails the run at once, not halfway through.
    augmenters = [builders[name]() for name in names]
    result = AugmentResult()
    # Rewrites already made for each example (the original included), to drop repeats.
    seen = {e.id: {comparable(_prompt(e))} for e in examples}
    for name, augmenter in zip(names, augmenters, strict=True):
        stats = result.stats[name] = {"generated": 0, "kept": 0, "rejected_similarity": 0}
        variants = augmenter.generate(examples, n=per_example, seed=seed)
        pairs = [
            (example, text)
            for example, texts in zip(examples, variants, strict=True)
            for text in texts
            if comparable(text) not in seen[example.id]
        ]
        for example, text in pairs:
            seen[example.id].add(comparable(text))
        stats["generated"] = len(pairs)
        scores = gate.similarities([_prompt(e) for e, _ in pairs], [t for _, t in pairs])
        counts: dict[str, int] = {}
        for (example, text), score in zip(pairs, scores, strict=True):
            if score < gate.min_similarity:
                stats["rejected_similarity"] += 1
                continue
            stats["kept"] += 1
            counts[example.id] = counts.get(example.id, 0) + 1
            result.examples.append(_rewrite(example, text, name, counts[example.id], score))
    return result


def method_names(methods: Sequence[str] | str) -> list[str]:
    """The augmentation methods named (a list, or "synonyms,templates" as typed on the command
    line), each once, in order; an unknown one is a `ConfigError`."""
    if isinstance(methods, str):
        methods = methods.split(",")
    names = list(dict.fromkeys(m.strip() for m in methods if m.strip()))
    unknown = [m for m in names if m not in METHODS]
    if unknown:
        raise ConfigError(
            f"Unknown augmentation method(s): {', '.join(unknown)}. "
            f"Valid methods are: {', '.join(METHODS)}."
        )
    return names


def _check(methods: Sequence[str], per_example: int) -> list[str]:
    names = method_names(methods)
    if not names:
        raise ConfigError(f"No augmentation method given. Valid methods are: {', '.join(METHODS)}.")
    if isinstance(per_example, bool) or not isinstance(per_example, int) or per_example < 1:
        raise ConfigError(
            f"The 'per_example' parameter of augment must be an int >= 1. Got {per_example!r} "
            "instead."
        )
    return names


def _prompt(example: Example) -> str:
    i = prompt_index(example)
    return "" if i is None else example.messages[i].content


def _rewrite(example: Example, text: str, method: str, n: int, similarity: float) -> Example:
    """A copy of `example` whose prompt is `text`; nothing is shared with the original."""
    i = prompt_index(example)
    assert i is not None, "only examples with a prompt get rewrites"
    messages = [copy.deepcopy(m) for m in example.messages]
    messages[i] = Message(role="user", content=text, timestamp=messages[i].timestamp)
    meta = copy.deepcopy(example.meta)
    meta["augmented"] = {"method": method, "of": example.id, "similarity": round(similarity, 4)}
    return Example(
        id=f"{example.id}-aug-{method}-{n}",
        user_id=example.user_id,
        conversation_id=example.conversation_id,
        messages=messages,
        source=example.source,
        meta=meta,
    )
