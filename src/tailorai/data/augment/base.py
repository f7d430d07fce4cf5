"""What every augmentation method shares: its interface, the prompt it rewrites, its seeding."""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from typing import Protocol

from tailorai.records import Example

__all__ = ["PLACEHOLDER", "Augmenter", "comparable", "prompt_index", "rng_for"]

# `{{Order Number}}` (templated data) and `<PERSON>` (anonymization) stand for values a rewrite
# must carry over untouched, so every method treats them as opaque.
PLACEHOLDER = re.compile(r"\{\{[^{}\n]*\}\}|<[A-Z][A-Z0-9_]*>")


class Augmenter(Protocol):
    """One augmentation method: new phrasings of each example's prompt."""

    name: str

    def generate(self, examples: Sequence[Example], *, n: int, seed: int) -> list[list[str]]:
        """Up to `n` new prompt texts per example, in order; `[]` where it has none."""
        ...


def prompt_index(example: Example) -> int | None:
    """Index of the last user message (the prompt), or None when there is none."""
    for i in range(len(example.messages) - 1, -1, -1):
        if example.messages[i].role == "user":
            return i
    return None


def rng_for(seed: int, *parts: object) -> random.Random:
    """A generator seeded by `seed` and the example, so output doesn't depend on batch order."""
    # String seeds are hashed with SHA-512 by `random`, stable across runs and processes.
    return random.Random(":".join([str(seed), *map(str, parts)]))


def comparable(text: str) -> str:
    """`text` folded for comparison: a rewrite that only changes case or spacing is no rewrite."""
    return " ".join(text.casefold().split())
