"""Template augmentation: new user phrasings for the example's intent, same assistant reply.

Templates live in a YAML file (by default the customer-support set shipped beside this module).
The intent is read from `example.meta["intent"]`; an example without one, or whose intent has no
templates, gets nothing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tailorai.data.augment.base import PLACEHOLDER, prompt_index, rng_for
from tailorai.errors import ConfigError
from tailorai.records import Example

__all__ = ["SUPPORT_TEMPLATES", "TemplateAugmenter", "TemplateSet"]

SUPPORT_TEMPLATES = Path(__file__).with_name("support_templates.yaml")
_SLOT = re.compile(r"\[([a-z_]+)\]")
_ARTICLE = re.compile(r"\b([Aa])n? (?=([A-Za-z]))")
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([?.!,])")
# Left over after the known entities are taken out, these mean the prompt names something
# specific ("invoice from 8 months ago") that a template would silently drop.
_SPECIFIC = re.compile(rf"{PLACEHOLDER.pattern}|\w*\d\w*")


@dataclass(frozen=True, slots=True)
class TemplateSet:
    """Parsed templates: slot values, entity patterns, and templates per intent."""

    slots: Mapping[str, list[str]]
    entities: Mapping[str, re.Pattern[str]]
    intents: Mapping[str, list[str]]

    @classmethod
    def load(cls, path: Path = SUPPORT_TEMPLATES) -> TemplateSet:
        try:
            raw: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
            slots = {k: [str(v) for v in vs] for k, vs in raw.get("slots", {}).items()}
            entities = {k: re.compile(v) for k, v in raw.get("entities", {}).items()}
            intents = {k: [str(t) for t in ts] for k, ts in raw["intents"].items()}
        except (OSError, yaml.YAMLError, re.error, AttributeError, KeyError, TypeError) as exc:
            raise ConfigError(
                f"Could not read the templates file {path}: {exc}. It needs an `intents` "
                "mapping of intent -> list of templates, and optional `slots` and `entities`."
            ) from exc
        for intent, templates in intents.items():
            for template in templates:
                unknown = set(_SLOT.findall(template)) - slots.keys() - entities.keys()
                if unknown:
                    raise ConfigError(
                        f"Template {template!r} of intent '{intent}' in {path} uses undefined "
                        f"slots {sorted(unknown)}; define them under `slots` or `entities`."
                    )
        return cls(slots=slots, entities=entities, intents=intents)


class TemplateAugmenter:
    """Fill the templates of each example's intent; seeded by `seed` and the example id."""

    name = "templates"

    def __init__(self, templates: TemplateSet | Path = SUPPORT_TEMPLATES) -> None:
        if not isinstance(templates, TemplateSet):
            templates = TemplateSet.load(templates)
        self.templates = templates

    def generate(self, examples: Sequence[Example], *, n: int, seed: int) -> list[list[str]]:
        out: list[list[str]] = []
        for example in examples:
            i = prompt_index(example)
            intent = example.meta.get("intent")
            if i is None or not isinstance(intent, str):
                out.append([])
                continue
            prompt = example.messages[i].content
            out.append(self.variants(prompt, intent, n=n, seed=seed, key=example.id))
        return out

    def variants(
        self, text: str, intent: str, *, n: int = 1, seed: int = 0, key: str = ""
    ) -> list[str]:
        """Up to `n` distinct phrasings of `text` for `intent`, each different from it.

        `key` (the example id) varies the draw between examples that share a text.
        """
        templates = self.templates.intents.get(intent, [])
        entities = self._entities(text, templates)
        if entities is None:
            return []
        usable = [t for t in templates if self._entity_slots(t) == entities.keys()]
        rng = rng_for(seed, key, self.name, text)
        found: list[str] = []
        for _ in range(10 * n):  # random fills repeat; stop trying after a while
            if len(found) == n or not usable:
                break
            new = self._fill(rng.choice(usable), entities, rng)
            if new.lower() != text.strip().lower() and new not in found:
                found.append(new)
        return found

    def _entity_slots(self, template: str) -> set[str]:
        return {s for s in _SLOT.findall(template) if s in self.templates.entities}

    def _entities(self, text: str, templates: list[str]) -> dict[str, str] | None:
        """The entities `text` mentions, among those its intent's templates use.

        None when `text` names something specific that no entity slot would carry over.
        """
        wanted = set().union(*(self._entity_slots(t) for t in templates)) if templates else set()
        found: dict[str, str] = {}
        rest = text
        for name in sorted(wanted):
            match = self.templates.entities[name].search(rest)
            if match:
                # A pattern may capture just the name in `value` ("from (?P<value>...)").
                value = (match["value"] if "value" in match.re.groupindex else None) or match[0]
                found[name] = value
                rest = rest.replace(value, " ")
        return None if _SPECIFIC.search(rest) else found

    def _fill(self, template: str, entities: Mapping[str, str], rng: Any) -> str:
        def value(match: re.Match[str]) -> str:
            name = match[1]
            return entities[name] if name in entities else rng.choice(self.templates.slots[name])

        text = " ".join(_SLOT.sub(value, template).split())
        text = _SPACE_BEFORE_PUNCT.sub(r"\1", text).strip(" ,")
        # Slots change the next word, so "a"/"an" is settled after filling.
        return _ARTICLE.sub(lambda m: m[1] + ("n " if m[2].lower() in "aeiou" else " "), text)
