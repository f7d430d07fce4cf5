"""Split: train and validation, by user or by conversation, never one group in both.

Groups are ordered by a seeded hash of their key and the first `validation_fraction` of them
(at least one when there are two or more) go to validation, so the split is the same on every
run with the same seed and data, and adding data moves few groups. Examples without a user id
are grouped by conversation even when splitting by user.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import xxhash

from tailorai.errors import ConfigError
from tailorai.records import Example

__all__ = ["split_examples"]


def _group(example: Example, by: str) -> str:
    if by == "user" and example.user_id is not None:
        return f"user:{example.user_id}"
    return f"conversation:{example.conversation_id}"


def split_examples(
    examples: Sequence[Example],
    *,
    by: str = "user",
    validation_fraction: float = 0.1,
    seed: int = 0,
) -> tuple[list[Example], list[Example]]:
    """Return `(train, validation)`."""
    if by not in ("user", "conversation"):
        raise ConfigError(f"--split-by must be 'user' or 'conversation'. Got {by!r} instead.")
    if not 0.0 <= validation_fraction < 1.0:
        raise ConfigError(
            f"The 'validation_fraction' parameter must be a float in [0, 1). "
            f"Got {validation_fraction!r} instead."
        )
    groups = sorted(
        {_group(e, by) for e in examples},
        key=lambda key: xxhash.xxh64_intdigest(f"{seed}:{key}".encode()),
    )
    n_validation = math.ceil(len(groups) * validation_fraction) if len(groups) > 1 else 0
    held_out = set(groups[:n_validation])
    train = [e for e in examples if _group(e, by) not in held_out]
    validation = [e for e in examples if _group(e, by) in held_out]
    return train, validation
