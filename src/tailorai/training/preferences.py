"""Preference pairs for `tailor train --method dpo`: reading them, and choosing those of a scope.

A dataset folder holds `preferences.jsonl`, one pair a line, as the feedback exporter writes it::

    {"prompt": [{"role": "user", "content": "Which browser?"}], "chosen": "Firefox, because...",
     "rejected": "Any.", "user_id": "u1", "segment": "browsers", "source": "thumbs"}

`prompt` is the conversation up to the reply (it ends with a user or system turn); `chosen` is
the reply users preferred, `rejected` the worse one. Lines that cannot be used are skipped and
kept with their line number and the reason (`Preferences.skipped`), never silently lost.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tailorai.errors import DataError
from tailorai.records import Quarantined

__all__ = [
    "PREFERENCES_FILE",
    "PreferencePair",
    "Preferences",
    "SkippedPairsWarning",
    "hold_out",
    "load_preferences",
]

PREFERENCES_FILE = "preferences.jsonl"
_ROLES = ("system", "user", "assistant")


class SkippedPairsWarning(UserWarning):
    """Lines of preferences.jsonl that are not usable preference pairs were skipped."""


@dataclass(slots=True)
class PreferencePair:
    prompt: list[dict[str, str]]
    chosen: str
    rejected: str
    user_id: str | None = None
    segment: str | None = None
    source: str | None = None
    line: int = 0


@dataclass
class Preferences:
    path: Path
    pairs: list[PreferencePair]
    dataset_id: str
    skipped: list[Quarantined] = field(default_factory=list)

    def scoped(self, kind: str, value: str | None) -> Preferences:
        """The pairs of one scope: all (global), one segment, or one user."""
        if kind == "global":
            return self
        key = "user_id" if kind == "user" else "segment"
        pairs = [p for p in self.pairs if getattr(p, key) == value]
        return Preferences(self.path, pairs, self.dataset_id, self.skipped)

    def groups(self) -> list[str]:
        """The segment names the pairs carry."""
        return sorted({p.segment for p in self.pairs if p.segment is not None})


def hold_out(count: int, share: float, seed: int) -> tuple[list[int], list[int]]:
    """`(train, validation)` indexes of `count` items: a `share` (one at least, and one left to
    train on) held out for validation, drawn with `seed`.

    >>> hold_out(10, 0.2, seed=0)
    ([0, 1, 2, 3, 4, 5, 6, 9], [7, 8])
    """
    order = list(range(count))
    random.Random(seed).shuffle(order)
    held_out = min(count - 1, max(1, round(count * share)))
    return sorted(order[held_out:]), sorted(order[:held_out])


def _problem(row: Any) -> str | None:
    """Why a line's object is not a usable preference pair, or None when it is one."""
    if not isinstance(row, dict):
        return "not a JSON object"
    prompt = row.get("prompt")
    if (
        not isinstance(prompt, list)
        or not prompt
        or not all(
            isinstance(m, dict) and m.get("role") in _ROLES and isinstance(m.get("content"), str)
            for m in prompt
        )
    ):
        return "'prompt' must be a non-empty list of {role: system|user|assistant, content: text}"
    if prompt[-1]["role"] == "assistant":
        return "the prompt's last message is the assistant's; it must end before the reply"
    for key in ("chosen", "rejected"):
        if not isinstance(row.get(key), str) or not row[key].strip():
            return f"'{key}' must be a non-empty text"
    if row["chosen"].strip() == row["rejected"].strip():
        return "'chosen' and 'rejected' are the same reply"
    for key in ("user_id", "segment", "source"):
        if row.get(key) is not None and not isinstance(row[key], str | int):
            return f"'{key}' must be a text when given"
    return None


def _optional(value: Any) -> str | None:
    return None if value is None else str(value)


def load_preferences(folder: str | Path) -> Preferences:
    """Read `preferences.jsonl` from a dataset folder; unusable lines are skipped and kept.

    >>> prefs = load_preferences("feedback-dataset")
    >>> len(prefs.pairs), [(q.line, q.error) for q in prefs.skipped]
    (120, [(7, 'not valid JSON (Expecting value)')])
    """
    path = Path(folder) / PREFERENCES_FILE
    if not path.is_file():
        raise DataError(
            f"No {PREFERENCES_FILE} in {Path(folder)}: --method dpo trains on preference pairs. "
            "Export them from user feedback (thumbs and corrections) into that folder, one "
            '{"prompt": [...], "chosen": "...", "rejected": "..."} object a line.'
        )
    pairs, skipped = [], []
    digest = hashlib.sha256()
    with path.open(encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            digest.update(line.encode("utf-8"))
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                problem: str | None = f"not valid JSON ({exc.msg})"
            else:
                problem = _problem(row)
            if problem is not None:
                skipped.append(Quarantined(str(path), number, problem, line.rstrip("\n")[:2000]))
                continue
            pairs.append(
                PreferencePair(
                    prompt=[{"role": m["role"], "content": m["content"]} for m in row["prompt"]],
                    chosen=row["chosen"],
                    rejected=row["rejected"],
                    user_id=_optional(row.get("user_id")),
                    segment=_optional(row.get("segment")),
                    source=_optional(row.get("source")),
                    line=number,
                )
            )
    # The content names the data, so a changed file is a new run (and not a stale resume).
    return Preferences(path.parent, pairs, f"prefs-{digest.hexdigest()[:16]}", skipped)
