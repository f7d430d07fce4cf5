"""tailorai: personalize AI-generated content for every user.

>>> from tailorai import prepare, PrepareConfig
>>> report = prepare(["chats.jsonl"], "dataset", PrepareConfig(pii="pseudonym", pii_secret="k"))

Names are imported on first use, so `import tailorai` (and the `tailor` command) start fast
without loading torch until a command needs it.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "Pipeline": "tailorai.data",
    "PrepareConfig": "tailorai.data",
    "prepare": "tailorai.data",
    "TailorError": "tailorai.errors",
    "Settings": "tailorai.settings",
    "get_settings": "tailorai.settings",
    "load_base_model": "tailorai.models",
    "load_tokenizer": "tailorai.models",
    "load_version": "tailorai.models",
    "finetune": "tailorai.training",
    "train": "tailorai.training",
    "TrainConfig": "tailorai.training",
    "Registry": "tailorai.training",
    "PromptBuilder": "tailorai.prompting",
}

__all__ = ["__version__", *sorted(_EXPORTS)]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'tailorai' has no attribute {name!r}")
