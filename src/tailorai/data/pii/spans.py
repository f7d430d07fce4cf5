"""What every recognizer returns, and the spans no recognizer may claim."""

from __future__ import annotations

import re

__all__ = ["Found", "placeholders"]

Found = tuple[str, int, int, float]  # (entity_type, start, end, score)

_PLACEHOLDER = re.compile(r"\{\{[^{}\n]{1,60}\}\}")


def placeholders(text: str) -> list[tuple[int, int]]:
    """Customer-support template slots like ``{{Order Number}}``: never personal data."""
    return [m.span() for m in _PLACEHOLDER.finditer(text)] if "{{" in text else []
