"""Context cues: a short block about the user, from whatever features are known.

Features are a plain dict (as the segments stage computes them). Each known key becomes one line,
in this order; a key that is absent, None or empty is skipped, and unknown keys are ignored, so a
raw or private feature never reaches a prompt by accident:

    =====================  =======================================  ==============================
    feature                value                                    line
    =====================  =======================================  ==============================
    preferred_categories   list of names                            Prefers: shoes, bags.
    recent_categories      list of names                            Recently browsed: shoes.
    last_items             list of names                            Recently viewed: Trail Runner 2.
    engagement             "low" / "medium" / "high", or [0, 1]     Engagement: high.
    device                 "mobile" / "desktop" / ...               Device: mobile.
    language               a language name or code                  Language: es.
    =====================  =======================================  ==============================

Lists keep their first `MAX_ITEMS` entries; whitespace inside a value is collapsed.

>>> context_cues({"device": "mobile", "preferred_categories": ["shoes", "bags"]})
'About this customer:\\n- Prefers: shoes, bags.\\n- Device: mobile.'
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["CUE_LABELS", "MAX_ITEMS", "context_cues"]

CUE_LABELS = {
    "preferred_categories": "Prefers",
    "recent_categories": "Recently browsed",
    "last_items": "Recently viewed",
    "engagement": "Engagement",
    "device": "Device",
    "language": "Language",
}
MAX_ITEMS = 5
HEADER = "About this customer:"


def _clean(value: Any) -> str:
    return " ".join(str(value).split())


def _engagement(value: Any) -> str:
    # A score in [0, 1] reads better to a model as a word.
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 1:
        return "low" if value < 1 / 3 else "medium" if value < 2 / 3 else "high"
    return _clean(value)


def _value(key: str, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, set | frozenset):  # no order of their own: make prompts repeatable
        value = sorted(value, key=str)
    if isinstance(value, list | tuple):
        items = [_clean(v) for v in value if v is not None and _clean(v)]
        return ", ".join(items[:MAX_ITEMS])
    return _engagement(value) if key == "engagement" else _clean(value)


def context_cues(features: Mapping[str, Any] | None) -> str:
    """The cues block for these features, or "" when none of the known ones is present."""
    if not features:
        return ""
    lines = []
    for key, label in CUE_LABELS.items():
        text = _value(key, features.get(key))
        if text:
            lines.append(f"- {label}: {text.rstrip('.')}.")
    return "\n".join([HEADER, *lines]) if lines else ""
