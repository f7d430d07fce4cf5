"""tailorai: personalize AI-generated content for every user.

>>> from tailorai import prepare, PrepareConfig
>>> report = prepare(["chats.jsonl"], "dataset", PrepareConfig(pii="pseudonym"))
"""

from __future__ import annotations

__version__ = "0.1.0"

from tailorai.data import Pipeline, PrepareConfig, prepare
from tailorai.errors import TailorError
from tailorai.settings import Settings, get_settings
from tailorai.training import load_base_model, load_tokenizer

__all__ = [
    "Pipeline",
    "PrepareConfig",
    "Settings",
    "TailorError",
    "__version__",
    "get_settings",
    "load_base_model",
    "load_tokenizer",
    "prepare",
]
