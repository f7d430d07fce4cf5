"""Generation: the router that picks each request's rung of the ladder, the back ends, and
the records of what was generated.

Imported on first use, so importing this package loads no model library.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "CONTENT_DECODING": "tailorai.generation.personalizer",
    "GenerationLog": "tailorai.generation.generation_log",
    "backend_from_settings": "tailorai.generation.backends",
    "GenerationRequest": "tailorai.records",
    "GenerationResult": "tailorai.records",
    "LocalBackend": "tailorai.generation.local_backend",
    "OpenAIBackend": "tailorai.generation.openai_backend",
    "Personalizer": "tailorai.generation.personalizer",
    "Route": "tailorai.generation.router",
    "Router": "tailorai.generation.router",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'tailorai.generation' has no attribute {name!r}")
